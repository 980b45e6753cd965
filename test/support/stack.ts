import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startAzurite, Azurite } from '../../dev/azurite';
import { startLocalHost, LocalHost } from '../../dev/host';
import { startGraphSimulator, GraphSimulator, SimulatorOptions } from '../../dev/simulator';
import { simulatorSettings, writeTrustBundle } from '../../dev/simulator/settings';
import { HOST_REQUEST_BODY_LIMIT_BYTES } from '../../shared/http/json-body';
import { resetServices } from '../../shared/platform/composition-root';

/**
 * The whole service on one machine for integration and e2e tests: Azurite (in memory), the Graph
 * simulator, and the local Functions host loading the real function files. Nothing is mocked.
 */
export interface Stack {
  azurite: Azurite;
  sim: GraphSimulator;
  host?: LocalHost;
  env: Record<string, string>;
  functionKey: string;
  api(path: string, init?: RequestInit & { json?: unknown; key?: string | null }): Promise<Response>;
  stop(): Promise<void>;
}

export interface StackOptions {
  simulator?: SimulatorOptions;
  env?: Record<string, string>;
  /** false: storage and simulator only (adapter tests). */
  host?: boolean;
  azurite?: Azurite;
}

const ROOT = resolve(__dirname, '../..');
export const FUNCTION_KEY = 'test-function-key';

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const azurite = options.azurite ?? (await startAzurite({ silent: true }));
  const sim = await startGraphSimulator({ quiet: true, ...options.simulator });
  const caPath = writeTrustBundle(join(mkdtempSync(join(tmpdir(), 'chat-sim-')), 'ca.pem'), sim, undefined);
  const env: Record<string, string> = {
    AzureWebJobsStorage: azurite.connectionString,
    ...simulatorSettings(sim, caPath),
    POLL_SCHEDULE: '*/1 * * * * *',
    // Microsoft's 30 s between operation checks would make every 202 test wait half a minute.
    OPERATION_CHECK_MIN_SECONDS: '1',
    ALLOW_LOCALHOST_CALLBACKS: 'true',
    // The host's body limit as in Azure (infra/app/api.bicep): what intake takes, with headroom.
    FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: String(HOST_REQUEST_BODY_LIMIT_BYTES),
    ...options.env,
  };
  // The functions read settings through loadConfig(process.env) once per process: set, then rebuild.
  const saved = new Map(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  resetServices();
  let host: LocalHost | undefined;
  if (options.host !== false) {
    host = await startLocalHost({
      appRoot: ROOT,
      entryPoints: ['functions/*.ts'],
      port: 0,
      env,
      functionKeys: [FUNCTION_KEY],
      logger: () => undefined,
    });
  }
  return {
    azurite,
    sim,
    host,
    env,
    functionKey: FUNCTION_KEY,
    async api(path, init = {}) {
      if (!host) throw new Error('started without the host');
      const headers = new Headers(init.headers);
      if (init.key !== null) headers.set('x-functions-key', init.key ?? FUNCTION_KEY);
      let body = init.body;
      if (init.json !== undefined) {
        body = JSON.stringify(init.json);
        if (!headers.has('content-type')) headers.set('content-type', 'application/json');
      }
      return fetch(`${host.url}${path}`, { ...init, headers, body });
    },
    async stop() {
      await host?.stop();
      await sim.stop();
      if (!options.azurite) await azurite.stop();
      resetServices();
      for (const [key, value] of saved) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    },
  };
}

/** Polls until `check` returns a value, within a bounded number of tries (no wall-clock assertion). */
export async function eventually<T>(check: () => Promise<T | undefined>, tries = 600, everyMs = 100): Promise<T> {
  for (let i = 0; i < tries; i += 1) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`condition not met after ${tries} tries`);
}
