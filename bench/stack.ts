import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent } from 'undici';
import { type Azurite, startAzurite } from '../dev/azurite';
import { type GraphSimulator, startGraphSimulator } from '../dev/simulator';
import { writeTrustBundle } from '../dev/simulator/settings';

/**
 * The pieces every benchmark stands on: Azurite (in memory), the Graph simulator, a CA bundle that
 * trusts it, and the local Functions host in its own process (so its memory is its own).
 */

export const ROOT = resolve(__dirname, '..', '..');
export const FUNCTION_KEY = 'bench-function-key';

export interface SimulatorWithTrust {
  sim: GraphSimulator;
  /** PEM file: whatever NODE_EXTRA_CA_CERTS already named, plus the simulator's CA (as dev/start.ts does). */
  caPath: string;
  /** An undici dispatcher that trusts the simulator, for this process's own Graph calls. */
  dispatcher: Agent;
  stop(): Promise<void>;
}

export async function startSimulator(tenantRps: number): Promise<SimulatorWithTrust> {
  const sim = await startGraphSimulator({ quiet: true, tenantRps, seed: 7 });
  const dir = mkdtempSync(join(tmpdir(), 'bench-sim-'));
  const caPath = join(dir, 'ca.pem');
  writeTrustBundle(caPath, sim, process.env.NODE_EXTRA_CA_CERTS);
  const dispatcher = new Agent({ connect: { ca: sim.ca }, connections: 256 });
  return {
    sim,
    caPath,
    dispatcher,
    stop: async () => {
      await dispatcher.close();
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `onLine`: Azurite's output (its access log included) line by line, instead of nothing. */
export function startStorage(onLine?: (line: string) => void): Promise<Azurite> {
  return startAzurite({ silent: true, onLine });
}

/** The app settings the service runs with, as test/support/stack.ts assembles them. */
export function serviceEnv(
  azurite: Azurite,
  trusted: SimulatorWithTrust,
  extra: Record<string, string> = {},
): Record<string, string> {
  const { sim } = trusted;
  return {
    AzureWebJobsStorage: azurite.connectionString,
    GRAPH_TENANT_ID: sim.tenantId,
    GRAPH_CLIENT_ID: sim.clientId,
    GRAPH_CLIENT_SECRET: sim.clientSecret,
    GRAPH_BASE_URL: sim.graphBaseUrl,
    GRAPH_AUTHORITY_HOST: sim.authorityHost,
    NODE_EXTRA_CA_CERTS: trusted.caPath,
    ...extra,
  };
}

export interface HostProcess {
  url: string;
  pid: number;
  /** Lines of host output seen (the host logs every invocation). */
  outputLines(): number;
  /** Peak resident set size of the host process so far (VmHWM), in KiB; NaN when not readable. */
  peakRssKiB(): number;
  /** Sends a request with the function key. */
  api(path: string, init?: { method?: string; json?: unknown; headers?: Record<string, string> }): Promise<Response>;
  stop(): Promise<void>;
}

const HOST_START_TIMEOUT_MS = 60_000;
const HOST_STOP_TIMEOUT_MS = 20_000;
/** Bound on any one call to the host (a batch of 1000 included). */
const REQUEST_TIMEOUT_MS = 180_000;

export function readVmHwmKiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * `node dist/dev/host/main.js --port 0 --log-format json` with the service's settings in its environment (the shell's
 * environment first, as Core Tools does; the service settings are set explicitly and win here because
 * the bench owns this child). Resolves once the host logs `phase: started`.
 */
export async function startHostProcess(env: Record<string, string>, nodeArgs: string[] = []): Promise<HostProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...nodeArgs,
      join(ROOT, 'dist', 'dev', 'host', 'main.js'),
      '--app-root',
      ROOT,
      '--port',
      '0',
      // JSON lines: the start event is read below (the host's default is plain lines for a person).
      '--log-format',
      'json',
    ],
    {
      cwd: ROOT,
      env: { ...process.env, ...env, LOCAL_HOST_FUNCTION_KEYS: FUNCTION_KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start the host process');
  let lines = 0;
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const started = new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`host did not start in ${HOST_START_TIMEOUT_MS} ms`)),
      HOST_START_TIMEOUT_MS,
    );
    const reader = createInterface({ input: child.stdout! });
    reader.on('line', (line) => {
      lines += 1;
      if (!line.includes('"started"')) return;
      try {
        const event = JSON.parse(line) as { event?: string; phase?: string; url?: string };
        if (event.event === 'host' && event.phase === 'started' && event.url) {
          clearTimeout(timer);
          resolveUrl(event.url);
        }
      } catch {
        // not a JSON line
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`host exited during start (code ${code}): ${stderr.trim()}`));
    });
  });
  let url: string;
  try {
    url = await started;
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const exited = new Promise<void>((done) => {
    if (child.exitCode !== null) done();
    else child.once('exit', () => done());
  });
  let peak = Number.NaN;
  return {
    url,
    pid,
    outputLines: () => lines,
    peakRssKiB: () => {
      const now = readVmHwmKiB(pid);
      if (Number.isFinite(now)) peak = Number.isFinite(peak) ? Math.max(peak, now) : now;
      return peak;
    },
    api: (path, init = {}) => {
      const headers: Record<string, string> = { 'x-functions-key': FUNCTION_KEY, ...init.headers };
      let body: string | undefined;
      if (init.json !== undefined) {
        body = JSON.stringify(init.json);
        headers['content-type'] = 'application/json';
      }
      return fetch(`${url}${path}`, {
        method: init.method ?? 'GET',
        headers,
        body,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    },
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), HOST_STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time (user + system) a process has used so far, in seconds; NaN when not readable (not Linux, no pid). */
export function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** Ids of this process's child processes whose command line contains `needle` (Linux /proc). */
export function childPids(needle: string): number[] {
  try {
    const children = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim();
    return children
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
        } catch {
          return false;
        }
      });
  } catch {
    return [];
  }
}
