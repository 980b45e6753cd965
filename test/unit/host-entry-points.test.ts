import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readMainPattern, resolveEntryPoints, segmentPattern } from '../../dev/host/entry-points';

describe('entry points', () => {
  let root: string;

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'entry-points-'));
    for (const file of [
      'dist/functions/a.js',
      'dist/functions/b.js',
      'dist/functions/b.js.map',
      'dist/functions/nested/c.js',
      'index.js',
    ]) {
      fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      fs.writeFileSync(path.join(root, file), '');
    }
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('resolves a glob like package.json "main", sorted', () => {
    expect(resolveEntryPoints(root, 'dist/functions/*.js')).toEqual([
      path.join(root, 'dist/functions/a.js'),
      path.join(root, 'dist/functions/b.js'),
    ]);
  });

  it('supports ** and {a,b}', () => {
    expect(resolveEntryPoints(root, 'dist/**/*.js')).toHaveLength(3);
    expect(resolveEntryPoints(root, 'dist/functions/{a,c}.js')).toEqual([path.join(root, 'dist/functions/a.js')]);
  });

  it('resolves plain files, relative or absolute, and nothing for a miss', () => {
    expect(resolveEntryPoints(root, 'index.js')).toEqual([path.join(root, 'index.js')]);
    expect(resolveEntryPoints(root, path.join(root, 'index.js'))).toEqual([path.join(root, 'index.js')]);
    expect(resolveEntryPoints(root, 'dist/*.ts')).toEqual([]);
  });

  it('matches one segment at a time', () => {
    expect(segmentPattern('*.js').test('a.js')).toBe(true);
    expect(segmentPattern('*.js').test('a.js.map')).toBe(false);
    expect(segmentPattern('?.js').test('ab.js')).toBe(false);
  });

  it('reads "main" and refuses ESM apps', () => {
    fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ main: 'dist/functions/*.js' }));
    expect(readMainPattern(root)).toBe('dist/functions/*.js');
    fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ main: 'x.js', type: 'module' }));
    expect(() => readMainPattern(root)).toThrow(/module/);
  });
});
