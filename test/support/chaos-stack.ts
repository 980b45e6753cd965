import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { QueueClient } from '@azure/storage-queue';
import { startLocalHost, LocalHost } from '../../dev/host';
import { startGraphSimulator, GraphSimulator, SimulatorOptions } from '../../dev/simulator';
import { resetServices } from '../../shared/platform/composition-root';
import { caBundle, callApi, ChildHost } from './chaos-app';
import { ChaosStorage } from './chaos-storage';

/**
 * The whole service for the chaos suite: Azurite behind a breakable proxy (chaos-storage.ts), the Graph
 * simulator, and the host either in this process (fast, `invokeTimer`) or as a child process (`kill -9`).
 * Every log line the host writes is kept in `logs`.
 */

const ROOT = resolve(__dirname, '../..');
export const CHAOS_FUNCTION_KEY = 'chaos-function-key-Zq8RkV3mW';

export interface ChaosStackOptions {
  simulator?: SimulatorOptions;
  env?: Record<string, string>;
  /** 'child': a separate process (restartable, killable); default in-process. */
  host?: 'in-process' | 'child' | 'none';
  /** Persistent Azurite data (needed to stop and start Azurite). */
  persistent?: boolean;
}

export interface ChaosStack {
  sim: GraphSimulator;
  storage: ChaosStorage;
  env: Record<string, string>;
  /** Every line the host wrote (in-process: the host logger's objects as JSON; child: stdout and stderr). */
  logs: string[];
  inProcess?: LocalHost;
  child?: ChildHost;
  readonly url: string;
  api(path: string, init?: RequestInit & { json?: unknown; key?: string | null }): Promise<Response>;
  /** The request queue, straight to Azurite (test-side sends and peeks). */
  queue(name?: string): QueueClient;
  stop(): Promise<void>;
}

export const CHAOS_ENV = {
  POLL_SCHEDULE: '*/1 * * * * *',
  // Microsoft's 30 s between operation checks would outlast the 15 s operation deadline below.
  OPERATION_CHECK_MIN_SECONDS: '1',
  NEW_USER_GRACE_MINUTES: '0.2',
  OPERATION_DEADLINE_MINUTES: '0.25',
  GRAPH_MAX_RPS: '25',
  ALLOW_LOCALHOST_CALLBACKS: 'true',
  // Every event, so the log checks (no secret, no member address) read all of them.
  LOG_LEVEL: 'debug',
};

export async function startChaosStack(options: ChaosStackOptions = {}): Promise<ChaosStack> {
  const storage = await ChaosStorage.start(
    options.persistent ? { location: mkdtempSync(join(tmpdir(), 'chaos-azurite-')) } : {},
  );
  const sim = await startGraphSimulator({ quiet: true, ...options.simulator });
  const bundle = caBundle(sim.ca);
  const env: Record<string, string> = {
    AzureWebJobsStorage: storage.connectionString,
    GRAPH_TENANT_ID: sim.tenantId,
    GRAPH_CLIENT_ID: sim.clientId,
    GRAPH_CLIENT_SECRET: sim.clientSecret,
    GRAPH_BASE_URL: sim.graphBaseUrl,
    GRAPH_AUTHORITY_HOST: sim.authorityHost,
    NODE_EXTRA_CA_CERTS: bundle,
    ...CHAOS_ENV,
    ...options.env,
  };
  const logs: string[] = [];
  const mode = options.host ?? 'in-process';
  let inProcess: LocalHost | undefined;
  let child: ChildHost | undefined;
  const saved = new Map(Object.keys(env).map((k) => [k, process.env[k]]));
  if (mode === 'in-process') {
    // The functions read settings through loadConfig(process.env) once per process: set, then rebuild.
    Object.assign(process.env, env);
    resetServices();
    inProcess = await startLocalHost({
      appRoot: ROOT,
      entryPoints: ['functions/*.ts'],
      port: 0,
      env,
      functionKeys: [CHAOS_FUNCTION_KEY],
      logger: (line) => logs.push(JSON.stringify(line)),
    });
  } else if (mode === 'child') {
    child = new ChildHost({ env, functionKey: CHAOS_FUNCTION_KEY, onLine: (line) => logs.push(line) });
    await child.start();
  }
  const queues: QueueClient[] = [];
  return {
    sim,
    storage,
    env,
    logs,
    inProcess,
    child,
    get url() {
      return inProcess?.url ?? child?.url ?? '';
    },
    api(path, init = {}) {
      const base = inProcess?.url ?? child?.url;
      if (!base) throw new Error('no host');
      return callApi(base, CHAOS_FUNCTION_KEY, path, init);
    },
    queue(name = 'chat-requests') {
      const client = new QueueClient(storage.direct.connectionString, name);
      queues.push(client);
      return client;
    },
    async stop() {
      await inProcess?.stop();
      await child?.stop();
      await sim.stop();
      await storage.stop();
      if (mode === 'in-process') {
        resetServices();
        for (const [key, value] of saved) {
          if (value === undefined) delete process.env[key];
          else process.env[key] = value;
        }
      }
    },
  };
}

/** Polls until `check` returns a value, every `everyMs`, for at most `ms` (then throws with `what`). */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms = 120_000,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
