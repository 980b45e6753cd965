/**
 * `npm run package [-- <folder>]`: builds the deployment package that `azd deploy` uploads (azure.yaml
 * `dist: .deploy/package`, `remoteBuild: false`), default `.deploy/package`:
 *
 *   host.json, package.json (no scripts, no bin), package-lock.json,
 *   dist/functions and dist/shared (tsconfig.build.json compiles only those; shared/ui, the ops page's
 *   static files, is copied beside them),
 *   node_modules with production dependencies only (`npm ci --omit=dev`), and .funcignore.
 *
 * Every file outside node_modules must be admitted by .funcignore (the same file azd applies when it
 * zips the folder); the build fails otherwise. docs/deploy.md says why the package is built here and not
 * by a remote build.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ignore from 'ignore';

/** The repository: the nearest folder up with tsconfig.build.json (this file runs from scripts/ or dist/scripts/). */
function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'tsconfig.build.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no tsconfig.build.json above ${from}`);
  }
}

export const ROOT = findRoot(__dirname);
export const DEFAULT_PACKAGE_DIR = '.deploy/package';

export interface PackageOptions {
  /** Where to build; emptied first. */
  outDir: string;
  /** Skips `npm ci --omit=dev` (tests of the layout only). */
  skipInstall?: boolean;
  /** Extra arguments for `npm ci`, e.g. `--prefer-offline`. */
  npmArgs?: string[];
  log?: (line: string) => void;
}

/** The files of a folder, relative with `/`, without descending into the given folder names. */
export function listFiles(dir: string, skipDirs: ReadonlySet<string> = new Set()): string[] {
  const found: string[] = [];
  const walk = (current: string): void => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = join(current, entry.name);
      const rel = relative(dir, full).split(sep).join('/');
      if (entry.isDirectory()) {
        if (!skipDirs.has(rel)) walk(full);
      } else {
        found.push(rel);
      }
    }
  };
  walk(dir);
  return found.sort();
}

/** A matcher with the repository's .funcignore rules (gitignore syntax, as azd reads them). */
export function funcIgnore(root = ROOT): { ignores(path: string): boolean; text: string } {
  const text = readFileSync(join(root, '.funcignore'), 'utf8');
  const matcher = ignore().add(text);
  return { ignores: (path) => matcher.ignores(path), text };
}

/** The package's package.json: the repository's, less what only development uses. */
export function packageManifest(source: Record<string, unknown>): Record<string, unknown> {
  // devDependencies stay: `npm ci` checks package.json against the lock file, and --omit=dev skips them.
  const { scripts: _scripts, bin: _bin, ...kept } = source;
  return kept;
}

/** Folders the package builds itself (dist, node_modules) or that are never sources of it. */
const BUILT_OR_LOCAL = new Set(['node_modules', 'dist', '.git', '.deploy', '.data', '.azure', 'coverage']);

/** The repository files .funcignore admits, other than what the package builds itself; azd skips .funcignore. */
export function sourceFiles(root = ROOT): string[] {
  const rules = funcIgnore(root);
  return listFiles(root, BUILT_OR_LOCAL).filter((file) => file !== '.funcignore' && !rules.ignores(file));
}

function tscBin(): string {
  return require.resolve('typescript/bin/tsc', { paths: [ROOT] });
}

export function buildPackage(options: PackageOptions): string {
  const out = resolve(options.outDir);
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });

  log(`compiling functions/ and shared/ (tsconfig.build.json) into ${out}/dist`);
  execFileSync(process.execPath, [tscBin(), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(out, 'dist')], {
    cwd: ROOT,
    stdio: 'inherit',
  });

  // The ops page's static files (not compiled): next to the compiled shared code, where its handler looks.
  cpSync(join(ROOT, 'shared', 'ui'), join(out, 'dist', 'shared', 'ui'), { recursive: true });

  // Every repository file .funcignore admits (host.json, package.json, the lock file), outside what is built.
  for (const file of sourceFiles()) {
    mkdirSync(dirname(join(out, file)), { recursive: true });
    if (file === 'package.json') {
      const manifest = JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(out, file), `${JSON.stringify(packageManifest(manifest), null, 2)}\n`);
    } else copyFileSync(join(ROOT, file), join(out, file));
  }
  copyFileSync(join(ROOT, '.funcignore'), join(out, '.funcignore'));

  const rules = funcIgnore(out);
  const refused = listFiles(out).filter((file) => file !== '.funcignore' && rules.ignores(file));
  if (refused.length > 0) throw new Error(`.funcignore leaves out files the package needs: ${refused.join(', ')}`);

  if (!options.skipInstall) {
    log('installing production dependencies (npm ci --omit=dev)');
    execFileSync(
      'npm',
      ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', ...(options.npmArgs ?? [])],
      { cwd: out, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } },
    );
    if (!existsSync(join(out, 'node_modules', '@azure', 'functions'))) {
      throw new Error('npm ci did not install @azure/functions into the package');
    }
  }
  return out;
}

if (require.main === module) {
  const outDir = process.argv[2] ?? join(ROOT, DEFAULT_PACKAGE_DIR);
  buildPackage({ outDir });
  console.log(`deployment package ready: ${resolve(outDir)}`);
}
