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

/**
 * `npm run test:quick` (JEST_QUICK=1, unit and integration projects only) leaves out the integration tests
 * that take minutes on their own; `npm test` runs everything.
 */
const SLOW_INTEGRATION = [
  // Builds the deployment package in a temporary folder, installs it and runs a host from it.
  '<rootDir>/test/integration/package.test.ts',
];
const quick = process.env.JEST_QUICK === '1';

module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', ...(quick ? SLOW_INTEGRATION : [])],
      slowTestThreshold: 30,
    },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'], slowTestThreshold: 60 },
    // Reliability and security; CHAOS=long (npm run test:chaos) runs the long variants.
    { ...common, displayName: 'chaos', testMatch: ['<rootDir>/test/chaos/**/*.test.ts'], slowTestThreshold: 120 },
  ],
  testTimeout: 120000,
};
