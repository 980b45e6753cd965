import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '../..');

/**
 * The packages a fresh Node process has loaded after requiring `modules` (TypeScript files of ours,
 * transpiled on the fly): jest's own module registry would hide what plain Node loads.
 */
function packagesLoadedBy(modules: string[]): string[] {
  const script = `
    const ts = require('typescript');
    const { readFileSync } = require('node:fs');
    require.extensions['.ts'] = (module, file) => {
      const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
        fileName: file,
      });
      module._compile(outputText, file);
    };
    const before = new Set(Object.keys(require.cache));
    for (const m of JSON.parse(process.argv[1])) require(m);
    const packages = new Set();
    for (const file of Object.keys(require.cache)) {
      if (before.has(file)) continue;
      const match = /node_modules[\\\\/]((?:@[^\\\\/]+[\\\\/])?[^\\\\/]+)/.exec(file);
      if (match) packages.add(match[1].replace(/\\\\/g, '/'));
    }
    process.stdout.write(JSON.stringify([...packages].sort()));
  `;
  const paths = modules.map((m) => join(ROOT, m));
  const out = execFileSync(process.execPath, ['-e', script, JSON.stringify(paths)], { cwd: ROOT, encoding: 'utf8' });
  return JSON.parse(out) as string[];
}

describe('what the worker path loads', () => {
  it('bind parsing (shared/core/request/binds.ts) loads no package at all, zod included', () => {
    expect(packagesLoadedBy(['shared/core/request/binds.ts'])).toEqual([]);
  });

  it('the AIMD maths and the queue port load no package: they are pure', () => {
    expect(packagesLoadedBy(['shared/core/rate/aimd.ts', 'shared/core/queue/port.ts'])).toEqual([]);
  });

  it('the worker (shared/use-cases/worker.ts) and everything it imports load no zod', () => {
    const loaded = packagesLoadedBy(['shared/use-cases/worker.ts']);
    expect(loaded).toContain('@microsoft/microsoft-graph-client');
    expect(loaded).not.toContain('zod');
  });

  it('the Graph client does not load zod', () => {
    const loaded = packagesLoadedBy(['shared/graph/graph-client.ts']);
    expect(loaded).toContain('@microsoft/microsoft-graph-client');
    expect(loaded).not.toContain('zod');
  });

  it('parsing a request does load zod (so the checks above can see it)', () => {
    expect(packagesLoadedBy(['shared/core/request/parse.ts'])).toContain('zod');
  });
});
