/** Jest runs TypeScript through ts-jest without type checking (tsc does that in `npm test`). */
const transform = { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] };
const common = {
  testEnvironment: 'node',
  transform,
  moduleFileExtensions: ['ts', 'js', 'json'],
  // The Functions host provides this module; the local host's stand-in captures the registrations.
  moduleNameMapper: { '^@azure/functions-core$': '<rootDir>/dev/host/functions-core.ts' },
  // `npm run package` builds the deployment package there: a second package.json and node_modules.
  modulePathIgnorePatterns: ['<rootDir>/.deploy/'],
};

module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      slowTestThreshold: 30,
    },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'], slowTestThreshold: 60 },
    // Reliability and security; CHAOS=long (npm run test:chaos) runs the long variants.
    { ...common, displayName: 'chaos', testMatch: ['<rootDir>/test/chaos/**/*.test.ts'], slowTestThreshold: 120 },
  ],
  testTimeout: 120000,
};
