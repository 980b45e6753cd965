import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** The layers of shared/ (docs/architecture.md): what each folder may load at run time. */

const SHARED = join(__dirname, '../../shared');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** Module specifiers a file loads at run time (type-only imports are erased; `import()` counts). */
function runtimeSpecifiers(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
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
      if (!typeOnly) found.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      if (!node.isTypeOnly) found.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] !== undefined &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      found.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Each run-time import of a file in `folder` that leaves it: `file -> shared/path` or `file -> package`. */
function leaving(folder: string): string[] {
  return tsFiles(join(SHARED, folder)).flatMap((file) =>
    runtimeSpecifiers(file)
      .map((s) => (s.startsWith('.') ? relative(join(SHARED, '..'), resolve(dirname(file), s)) : s))
      .filter((target) => !target.startsWith(`shared/${folder}/`))
      .map((target) => `${relative(SHARED, file)} -> ${target}`),
  );
}

describe('the layers of shared/', () => {
  it('core/ loads no SDK and no other layer, apart from the named crossings', () => {
    expect(leaving('core').sort()).toEqual([
      'core/ids.ts -> uuid',
      'core/rate/gate.ts -> shared/platform/telemetry',
      'core/request/fields.ts -> shared/platform/config',
      'core/request/hash.ts -> node:crypto',
      'core/request/schemas.ts -> zod',
    ]);
  });

  it('the adapters (graph/, storage/) load neither the use cases nor the HTTP edge nor each other', () => {
    const crossing = [...leaving('graph'), ...leaving('storage')].filter((i) =>
      /-> shared\/(use-cases|http|graph|storage)\//.test(i),
    );
    expect(crossing).toEqual([]);
  });

  it('nothing in shared/ loads functions/', () => {
    const folders = readdirSync(SHARED).filter((f) => statSync(join(SHARED, f)).isDirectory());
    expect(folders.flatMap(leaving).filter((i) => i.includes('-> functions/'))).toEqual([]);
  });
});
