import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './stack';
import { median, ratio } from './stats';

/**
 * P4 cold start: time to `require` every compiled function file vs `require('@azure/functions')`
 * alone, each in a fresh `node -e` process, medians over several runs, alternating the two.
 *
 * Without `@azure/functions-core` the library runs in "test mode" and registers nothing, so every
 * process first installs the local host's stand-in (`dev/host/functions-core`: `installCoreModule()`
 * hooks `Module._resolveFilename` for that one name), outside the timed part, in both variants. The
 * timed part is the `require` calls only (process.hrtime around them); node's own start is the same
 * for both and is reported separately as whole-process wall time.
 */

const run = promisify(execFile);

export interface LoadSample {
  requireMs: number;
  processMs: number;
  modules: number;
  /** Files loaded per package (node_modules name), ours as "(app)". */
  packages: Record<string, number>;
  /** Our compiled files and the packages each one requires directly (at load time). */
  imports: Record<string, string[]>;
}

export interface P4Result {
  runs: number;
  functionFiles: string[];
  functionsMs: number;
  libraryMs: number;
  functionsOverLibrary: number;
  functionsProcessMs: number;
  libraryProcessMs: number;
  modulesLoaded: { functions: number; library: number };
  /** Packages the function files load beyond @azure/functions, with files loaded and require time alone. */
  extraPackages: { name: string; files: number; aloneMs: number }[];
  /** Which of our files pull which packages in at load time. */
  importedBy: Record<string, string[]>;
  registered: string[];
  /**
   * The cost moved to the first invocation: `require` of the handler modules (dist/functions/handlers)
   * in a process that has loaded the function files already (untimed), medians. `all`: every handler
   * module together (what the first call of every function loads in all); `each`: one module alone.
   */
  deferred: { allMs: number; modules: number; each: { name: string; ms: number }[] };
}

function loaderScript(targets: string[], preload: string[]): string {
  return `
const core = require(${JSON.stringify(join(ROOT, 'dist', 'dev', 'host', 'functions-core.js'))});
core.installCoreModule();
for (const target of ${JSON.stringify(preload)}) require(target);
const before = new Set(Object.keys(require.cache));
const started = process.hrtime.bigint();
for (const target of ${JSON.stringify(targets)}) require(target);
const requireMs = Number(process.hrtime.bigint() - started) / 1e6;
const packages = {};
for (const file of Object.keys(require.cache)) {
  if (before.has(file)) continue;
  const at = file.lastIndexOf('/node_modules/');
  let name = '(app)';
  if (at >= 0) {
    const parts = file.slice(at + 14).split('/');
    name = parts[0].startsWith('@') ? parts[0] + '/' + parts[1] : parts[0];
  }
  packages[name] = (packages[name] || 0) + 1;
}
const packageOf = (file) => {
  const at = file.lastIndexOf('/node_modules/');
  if (at < 0) return undefined;
  const parts = file.slice(at + 14).split('/');
  return parts[0].startsWith('@') ? parts[0] + '/' + parts[1] : parts[0];
};
const imports = {};
for (const [file, mod] of Object.entries(require.cache)) {
  if (before.has(file) || packageOf(file)) continue;
  const direct = [...new Set(mod.children.map((c) => packageOf(c.id)).filter(Boolean))];
  if (direct.length > 0) imports[file.slice(${JSON.stringify(ROOT.length + 1)})] = direct;
}
const registered = [...core.coreState.functions.values()].map((f) => f.name);
process.stdout.write(JSON.stringify({ requireMs, modules: Object.keys(require.cache).length - before.size, packages, imports, registered }));
`;
}

async function sample(targets: string[], preload: string[] = []): Promise<LoadSample & { registered: string[] }> {
  const started = performance.now();
  const { stdout } = await run(process.execPath, ['-e', loaderScript(targets, preload)], {
    cwd: ROOT,
    timeout: 60_000,
  });
  const processMs = performance.now() - started;
  return { ...(JSON.parse(stdout) as Omit<LoadSample, 'processMs'> & { registered: string[] }), processMs };
}

export function functionFiles(): string[] {
  return jsFiles(join(ROOT, 'dist', 'functions'));
}

/** The modules the function files load on first invocation (functions/handlers/*.ts). */
export function handlerFiles(): string[] {
  return jsFiles(join(ROOT, 'dist', 'functions', 'handlers'));
}

function jsFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((f) => f.endsWith('.js'))
    .sort()
    .map((f) => join(dir, f));
}

export async function runP4(options: {
  runs: number;
  breakdownRuns: number;
  log: (line: string) => void;
}): Promise<P4Result> {
  const files = functionFiles();
  const library = require.resolve('@azure/functions', { paths: [ROOT] });
  const functions: Awaited<ReturnType<typeof sample>>[] = [];
  const libraryOnly: Awaited<ReturnType<typeof sample>>[] = [];
  await sample(files); // warm the file cache; not counted
  await sample([library]);
  for (let i = 0; i < options.runs; i += 1) {
    if (i % 2 === 0) {
      functions.push(await sample(files));
      libraryOnly.push(await sample([library]));
    } else {
      libraryOnly.push(await sample([library]));
      functions.push(await sample(files));
    }
  }
  const last = functions[functions.length - 1] as Awaited<ReturnType<typeof sample>>;
  const libraryPackages = (libraryOnly[0] as LoadSample).packages;
  const extra = Object.entries(last.packages)
    .filter(([name]) => name !== '(app)' && !(name in libraryPackages))
    .sort((a, b) => b[1] - a[1]);
  const extraPackages: P4Result['extraPackages'] = [];
  for (const [name, count] of extra) {
    const times: number[] = [];
    for (let i = 0; i < options.breakdownRuns; i += 1) {
      try {
        times.push((await sample([library, require.resolve(name, { paths: [ROOT] })])).requireMs);
      } catch {
        // a package without a main entry (loaded only by subpath): not timed alone
      }
    }
    const alone = times.length > 0 ? median(times) - median(libraryOnly.map((s) => s.requireMs)) : Number.NaN;
    extraPackages.push({ name, files: count, aloneMs: alone });
  }
  extraPackages.sort((a, b) => (b.aloneMs || 0) - (a.aloneMs || 0));
  const handlers = handlerFiles();
  const deferredAll: LoadSample[] = [];
  const each: P4Result['deferred']['each'] = [];
  if (handlers.length > 0) {
    for (let i = 0; i < options.runs; i += 1) deferredAll.push(await sample(handlers, files));
    for (const handler of handlers) {
      const times: number[] = [];
      for (let i = 0; i < Math.max(1, options.breakdownRuns); i += 1) {
        times.push((await sample([handler], files)).requireMs);
      }
      each.push({ name: basename(handler, '.js'), ms: median(times) });
    }
    each.sort((a, b) => b.ms - a.ms);
  }
  const deferred: P4Result['deferred'] = {
    allMs: deferredAll.length > 0 ? median(deferredAll.map((s) => s.requireMs)) : Number.NaN,
    modules: deferredAll[0]?.modules ?? 0,
    each,
  };
  const functionsMs = median(functions.map((s) => s.requireMs));
  const libraryMs = median(libraryOnly.map((s) => s.requireMs));
  options.log(
    `  P4: function files ${functionsMs.toFixed(1)} ms (${last.modules} modules) vs @azure/functions ${libraryMs.toFixed(1)} ms (${(libraryOnly[0] as LoadSample).modules} modules), medians of ${options.runs}`,
  );
  return {
    runs: options.runs,
    functionFiles: files.map((f) => f.slice(ROOT.length + 1)),
    functionsMs,
    libraryMs,
    functionsOverLibrary: ratio(functionsMs, libraryMs),
    functionsProcessMs: median(functions.map((s) => s.processMs)),
    libraryProcessMs: median(libraryOnly.map((s) => s.processMs)),
    modulesLoaded: { functions: last.modules, library: (libraryOnly[0] as LoadSample).modules },
    extraPackages,
    importedBy: last.imports,
    registered: last.registered,
    deferred,
  };
}
