import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { runtimeSpecifiers, tsFiles } from '../support/ts-imports';

const ROOT = join(__dirname, '../..');

/** The files of ours a file imports at run time (see runtimeSpecifiers), resolved to their paths. */
function runtimeImports(file: string): string[] {
  const specifiers = runtimeSpecifiers(file);
  return specifiers
    .filter((s) => s.startsWith('.'))
    .map((s) => resolve(dirname(file), s))
    .map((base) => [`${base}.ts`, join(base, 'index.ts')].find((candidate) => existsSync(candidate)))
    .filter((target): target is string => target !== undefined);
}

/** The import circles among `files`: each strongly connected component with more than one file (Tarjan). */
function circles(files: string[]): string[][] {
  const inScope = new Set(files);
  const edges = new Map(files.map((f) => [f, runtimeImports(f).filter((t) => inScope.has(t))]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const connect = (file: string): void => {
    index.set(file, next);
    low.set(file, next);
    next++;
    stack.push(file);
    onStack.add(file);
    for (const target of edges.get(file) ?? []) {
      if (!index.has(target)) {
        connect(target);
        low.set(file, Math.min(low.get(file)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(file, Math.min(low.get(file)!, index.get(target)!));
      }
    }
    if (low.get(file) === index.get(file)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(relative(ROOT, member));
      } while (member !== file);
      if (component.length > 1 || (edges.get(file) ?? []).includes(file)) found.push(component.sort());
    }
  };
  for (const file of files) if (!index.has(file)) connect(file);
  return found;
}

describe('imports among shared/ and functions/', () => {
  it('form no circle (a circle makes load order decide which module sees the other half-loaded)', () => {
    const files = [...tsFiles(join(ROOT, 'shared')), ...tsFiles(join(ROOT, 'functions'))];
    expect(files.length).toBeGreaterThan(20);
    expect(circles(files)).toEqual([]);
  });

  it('finds a circle closed by import(), and none through type-only imports', () => {
    const dir = mkdtempSync(join(tmpdir(), 'import-circles-'));
    try {
      const write = (name: string, text: string): string => {
        writeFileSync(join(dir, name), text);
        return join(dir, name);
      };
      const files = [
        write('settings.ts', "import { lazy } from './loader';\nexport const a = lazy;\n"),
        write('loader.ts', "export const lazy = () => import('./settings');\n"),
        write('types.ts', "import type { a } from './view';\nexport type A = typeof a;\n"),
        write('view.ts', "import { type A } from './types';\nexport { type A };\nexport const a = 1;\n"),
      ];
      expect(circles(files).map((c) => c.map((f) => basename(f)))).toEqual([['loader.ts', 'settings.ts']]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
