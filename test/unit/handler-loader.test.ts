import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lazyModule } from '../../shared/platform/handler-loader';
import { startTelemetryFromSettings } from '../../shared/platform/telemetry-start';

jest.mock('../../shared/platform/telemetry-start', () => ({ startTelemetryFromSettings: jest.fn() }));

const ROOT = join(__dirname, '../..');
const startTelemetry = startTelemetryFromSettings as jest.MockedFunction<typeof startTelemetryFromSettings>;

/** Module names a TypeScript file imports at load time (type-only imports and `import()` excluded). */
function loadTimeImports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const names = [...source.matchAll(/^import\s+(?!type\b)[^;]*?from\s+'([^']+)';/gms)].map((m) => m[1] as string);
  const required = [...source.matchAll(/\brequire\(\s*'([^']+)'\s*\)/g)].map((m) => m[1] as string);
  return [...names, ...required];
}

describe('function files (cold start, bench P4)', () => {
  const files = readdirSync(join(ROOT, 'functions')).filter((f) => f.endsWith('.ts'));

  it('import only @azure/functions, shared/platform/app-settings and shared/platform/handler-loader at load time', () => {
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const imports = loadTimeImports(join(ROOT, 'functions', file));
      expect({
        file,
        imports: imports.filter(
          (i) =>
            i !== '@azure/functions' &&
            i !== '../shared/platform/app-settings' &&
            i !== '../shared/platform/handler-loader',
        ),
      }).toEqual({ file, imports: [] });
    }
  });

  it('shared/platform/app-settings imports nothing at load time, shared/platform/handler-loader only app-settings', () => {
    expect(loadTimeImports(join(ROOT, 'shared', 'platform', 'app-settings.ts'))).toEqual([]);
    expect(loadTimeImports(join(ROOT, 'shared', 'platform', 'handler-loader.ts'))).toEqual(['./app-settings']);
  });
});

describe('lazyModule', () => {
  const saved = process.env.APPLICATIONINSIGHTS_CONNECTION_STRING;

  beforeEach(() => {
    startTelemetry.mockReset();
    delete process.env.APPLICATIONINSIGHTS_CONNECTION_STRING;
  });

  afterAll(() => {
    if (saved === undefined) delete process.env.APPLICATIONINSIGHTS_CONNECTION_STRING;
    else process.env.APPLICATIONINSIGHTS_CONNECTION_STRING = saved;
  });

  it('loads nothing until called, then once, also for calls that overlap', async () => {
    const load = jest.fn(async () => ({ value: 42 }));
    const get = lazyModule(load);
    expect(load).not.toHaveBeenCalled();
    const [a, b] = await Promise.all([get(), get()]);
    const c = await get();
    expect(load).toHaveBeenCalledTimes(1);
    expect(a).toBe(b);
    expect(c).toBe(a);
  });

  it('tries a failed load again on the next call', async () => {
    const load = jest
      .fn<Promise<{ value: number }>, []>()
      .mockRejectedValueOnce(new Error('disk hiccup'))
      .mockResolvedValue({ value: 1 });
    const get = lazyModule(load);
    await expect(get()).rejects.toThrow('disk hiccup');
    await expect(get()).resolves.toEqual({ value: 1 });
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('does not start telemetry without a connection string', async () => {
    process.env.APPLICATIONINSIGHTS_CONNECTION_STRING = '  ';
    await lazyModule(async () => 1)();
    expect(startTelemetry).not.toHaveBeenCalled();
  });

  it('starts telemetry before loading the handler module when a connection string is set', async () => {
    process.env.APPLICATIONINSIGHTS_CONNECTION_STRING = 'InstrumentationKey=00000000-0000-0000-0000-000000000000';
    const order: string[] = [];
    startTelemetry.mockImplementation(() => {
      order.push('telemetry');
      return { started: true };
    });
    await lazyModule(async () => order.push('load'))();
    expect(order).toEqual(['telemetry', 'load']);
    expect(startTelemetry).toHaveBeenCalledWith(process.env);
  });
});
