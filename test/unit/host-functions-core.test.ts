import Module from 'node:module';
import * as path from 'node:path';
import { app } from '@azure/functions';
import { coreState, installCoreModule, registerFunction, registerHook } from '../../dev/host/functions-core';

// What the worker injects at runtime; the library looks it up lazily by this exact name.
jest.mock('@azure/functions-core', () => jest.requireActual('../../dev/host/functions-core'), { virtual: true });

describe('the @azure/functions-core stand-in', () => {
  it('receives app.http registrations and the programming model from the real library', () => {
    // Act
    app.http('coreProbe', { route: 'probe/{id}', authLevel: 'function', handler: async () => ({ body: 'x' }) });
    // Assess
    const registered = coreState.functions.get('coreProbe');
    expect(coreState.programmingModel?.name).toBe('@azure/functions');
    expect(Object.values(registered?.metadata.bindings ?? {})).toEqual([
      expect.objectContaining({
        type: 'httpTrigger',
        direction: 'in',
        route: 'probe/{id}',
        authLevel: 'function',
        methods: ['GET', 'POST'],
      }),
      expect.objectContaining({ type: 'http', direction: 'out' }),
    ]);
    expect(Object.keys(registered?.metadata.bindings ?? {})).toContain('$return');
  });

  it('refuses a second function with the same id, and forgets a disposed one', () => {
    const disposable = registerFunction({ name: 'dupe', bindings: {} }, () => undefined);
    expect(() => registerFunction({ name: 'dupe', bindings: {} }, () => undefined)).toThrow(/already been registered/);
    disposable.dispose();
    expect(coreState.functions.has('dupe')).toBe(false);
  });

  it('tags registrations with the entry point being loaded', () => {
    coreState.currentEntryPoint = '/app/dist/functions/a.js';
    let disposable: { dispose: () => unknown } | undefined;
    try {
      disposable = registerFunction({ name: 'tagged', bindings: {} }, () => undefined);
    } finally {
      coreState.currentEntryPoint = undefined;
    }
    expect(coreState.functions.get('tagged')?.entryPoint).toBe('/app/dist/functions/a.js');
    disposable.dispose();
  });

  it('keeps hooks per name, disposable, and rejects unknown names like the worker', () => {
    const callback = (): void => undefined;
    const disposable = registerHook('preInvocation', callback);
    expect(coreState.hooks.preInvocation).toContain(callback);
    disposable.dispose();
    expect(coreState.hooks.preInvocation).not.toContain(callback);
    expect(() => registerHook('sometimes', callback)).toThrow(RangeError);
  });

  it('app.hook.* goes through registerHook', () => {
    const disposable = app.hook.appStart(() => undefined);
    expect(coreState.hooks.appStart).toHaveLength(1);
    disposable.dispose();
    expect(coreState.hooks.appStart).toHaveLength(0);
  });

  it('makes require("@azure/functions-core") resolve to itself under plain Node, and nothing else', () => {
    installCoreModule();
    const resolve = (Module as unknown as { _resolveFilename: (request: string, parent: unknown) => string })
      ._resolveFilename;
    expect(resolve('@azure/functions-core', module)).toBe(path.resolve(__dirname, '../../dev/host/functions-core.ts'));
    expect(resolve('node:path', module)).toBe('node:path');
  });
});
