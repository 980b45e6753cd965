import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = join(__dirname, '../..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/**
 * The files of ours a file imports at run time: static imports and re-exports (type-only ones left out,
 * they are erased) and `import()`, which loads its module later but still closes a circle.
 */
function runtimeImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const specifiers: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly =
        node.isTypeOnly ||
        (node.exportClause !== undefined &&
          ts.isNamedExports(node.exportClause) &&
          node.exportClause.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) specifiers.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] !== undefined &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      specifiers.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
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
