import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { runtimeSpecifiers, tsFiles } from '../support/ts-imports';

/** The layers of shared/ (docs/architecture.md): what each folder may load at run time. */

const SHARED = join(__dirname, '../../shared');

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
