/**
 * Starts Azurite (the `azurite` devDependency) on 127.0.0.1 with free ports, for `npm start` and the tests.
 *
 * - `--disableTelemetry` always: Azurite reports usage to a remote endpoint otherwise.
 * - `--skipApiVersionCheck`: kept although Azurite 3.37.0 accepts x-ms-version up to 2026-06-06 and
 *   @azure/storage-queue 12.30.0 sends 2026-04-06: with 3.35.0 (2025-11-05) queue calls failed with 400
 *   InvalidHeaderValue, and an SDK upgrade ahead of Azurite would bring that back.
 * - The installed Azurite is patched (patches/azurite+3.37.0.patch, applied by `npm ci`'s postinstall): one
 *   guard that stops every queue receive/delete/update from rebuilding the message indexes (bench/README.md).
 * - `--loose` is not used: the SDKs work without it.
 * - Ports: Azurite is given port 0 and reports the ports it bound, so there is no find-then-bind race.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';

export interface AzuriteOptions {
  /** Folder for persistent data; omitted = `--inMemoryPersistence` (nothing written to disk). */
  location?: string;
  /** true: Azurite's own output (and access log) is not shown. */
  silent?: boolean;
  /** With `location`: how long to wait for a previous Azurite on the same folder to finish saving (default 30 s). */
  previousWaitMs?: number;
  /**
   * Azurite's output line by line (its access log included, whatever `silent` says) to this function
   * instead of the console: the benchmarks count conditional-write conflicts from it.
   */
  onLine?: (line: string) => void;
}

export interface Azurite {
  connectionString: string;
  queueUrl: string;
  tableUrl: string;
  blobUrl: string;
  stop(): Promise<void>;
}

/** The well-known development account (public, documented by Microsoft; not a secret). */
export const devStoreAccount = {
  name: 'devstoreaccount1',
  key: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
};

const startTimeoutMs = 30_000;
const stopTimeoutMs = 5_000;
const persistentStopTimeoutMs = 30_000;
const maxAttempts = 3;

/**
 * Runs Azurite's CLI inside a tiny wrapper that makes it outlive a crash of whoever started it, long enough to
 * save. Azurite keeps its data in LokiJS databases that are written every 5 seconds and when Azurite closes
 * (SIGINT/SIGTERM); a SIGKILL of Azurite loses every write of the last 5 seconds, acknowledged or not. So:
 * - Azurite runs in its own process group (`detached`), so a signal to the starter's group (kill -9 of
 *   `npm start`'s group, the terminal closing) does not reach it.
 * - It watches its parent: when the IPC channel closes (we stop it, or we die without cleaning up) or its parent
 *   process changes (ppid polling, in case the channel close goes unnoticed), it sends itself SIGTERM, on which
 *   Azurite closes its servers and saves its databases, then exits.
 * - Writes to stdout/stderr after the parent died fail with EPIPE; they are ignored, so Azurite's own
 *   "service is closing" lines cannot crash it before it has saved.
 * - With a data folder, the wrapper writes its pid to `azurite.pid` there and removes it on exit, so the next start
 *   waits for a previous Azurite that is still saving instead of loading half-written files beside it.
 */
const wrapper = [
  "const fs = require('fs');",
  'const pidFile = process.env.AZURITE_PID_FILE;',
  "for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);",
  'if (pidFile) {',
  '  fs.writeFileSync(pidFile, String(process.pid));',
  "  process.on('exit', () => { try { fs.unlinkSync(pidFile); } catch {} });",
  '}',
  'const parent = process.ppid;',
  'let leaving = false;',
  'const leave = () => {',
  '  if (leaving) return;',
  '  leaving = true;',
  "  process.kill(process.pid, 'SIGTERM');",
  // Azurite exits by itself once its servers and databases are closed; this only ends a hung close.
  '  setTimeout(() => process.exit(0), 30000).unref();',
  '};',
  "process.on('disconnect', leave);",
  'setInterval(() => { if (process.ppid !== parent) leave(); }, 500).unref();',
  'require(process.argv[1]);',
].join('\n');

/** Running Azurites; true = it has a data folder (and must be let save rather than killed). */
const running = new Map<ChildProcess, boolean>();
let exitHookInstalled = false;

function killAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    // An Azurite with data gets SIGTERM, on which it saves; an in-memory one has nothing to save.
    for (const [child, persistent] of running) child.kill(persistent ? 'SIGTERM' : 'SIGKILL');
  });
}

export function connectionStringFor(urls: { blobUrl: string; queueUrl: string; tableUrl: string }): string {
  return [
    'DefaultEndpointsProtocol=http',
    `AccountName=${devStoreAccount.name}`,
    `AccountKey=${devStoreAccount.key}`,
    `BlobEndpoint=${urls.blobUrl}`,
    `QueueEndpoint=${urls.queueUrl}`,
    `TableEndpoint=${urls.tableUrl}`,
    '',
  ].join(';');
}

/** Reads "Azurite Queue service is successfully listening at http://127.0.0.1:12345" lines. */
export function parseListeningLine(line: string): { service: 'blob' | 'queue' | 'table'; url: string } | undefined {
  const match = /Azurite (Blob|Queue|Table) service is successfully listening at (https?:\/\/\S+)/.exec(line);
  if (!match) return undefined;
  return {
    service: (match[1] as string).toLowerCase() as 'blob' | 'queue' | 'table',
    url: (match[2] as string).replace(/\/$/, ''),
  };
}

function probe(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get(`${url}/${devStoreAccount.name}?comp=properties&restype=service`, (response) => {
      response.resume();
      resolve(true);
    });
    request.setTimeout(2_000, () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

/** Any HTTP answer means the service is up (unauthenticated calls get 403). */
async function waitUntilAnswering(urls: string[], deadline: number): Promise<void> {
  for (const url of urls) {
    while (!(await probe(url))) {
      if (Date.now() > deadline) throw new Error(`Azurite did not answer at ${url}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.connected) child.disconnect();
  else child.kill('SIGTERM');
  // Saving the databases of a persistent Azurite may take a while; SIGKILL would lose what is unsaved.
  if (!(await waitForExit(child, running.get(child) ? persistentStopTimeoutMs : stopTimeoutMs))) {
    child.kill('SIGKILL');
    await waitForExit(child, stopTimeoutMs);
  }
  child.stdout?.destroy();
  child.stderr?.destroy();
  running.delete(child);
}

async function launch(
  options: AzuriteOptions,
  workDir: string,
): Promise<{ child: ChildProcess; urls: Record<'blob' | 'queue' | 'table', string> }> {
  const azuriteCli = require.resolve('azurite/dist/src/azurite.js');
  const args = [
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    '0',
    '--queueHost',
    '127.0.0.1',
    '--queuePort',
    '0',
    '--tableHost',
    '127.0.0.1',
    '--tablePort',
    '0',
    '--disableTelemetry',
    '--skipApiVersionCheck',
    ...(options.location ? ['--location', options.location] : ['--inMemoryPersistence']),
    ...(options.silent && !options.onLine ? ['--silent'] : []),
  ];
  const child = spawn(process.execPath, ['-e', wrapper, azuriteCli, ...args], {
    cwd: workDir,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true,
    env: { ...process.env, ...(options.location ? { AZURITE_PID_FILE: pidFileOf(options.location) } : {}) },
  });
  running.set(child, Boolean(options.location));
  killAllOnExit();
  const urls: Partial<Record<'blob' | 'queue' | 'table', string>> = {};
  let output = '';
  const forward = (stream: NodeJS.WriteStream) => {
    let partial = '';
    return (chunk: Buffer) => {
      if (options.onLine) {
        const lines = (partial + chunk.toString()).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) options.onLine(line);
      } else if (!options.silent) stream.write(chunk.toString().replace(/^(?=.)/gm, '[azurite] '));
    };
  };
  child.stdout?.on('data', forward(process.stdout));
  child.stderr?.on('data', forward(process.stderr));
  const ready = new Promise<void>((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const listening = parseListeningLine(line);
        if (listening) urls[listening.service] = listening.url;
      }
      if (urls.blob && urls.queue && urls.table) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code, signal) =>
      reject(new Error(`Azurite exited during start (code ${code}, signal ${signal}): ${output.trim().slice(-2000)}`)),
    );
    child.once('error', reject);
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ready,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Azurite did not start within ${startTimeoutMs} ms: ${output.trim().slice(-2000)}`)),
          startTimeoutMs,
        );
      }),
    ]);
    const found = urls as Record<'blob' | 'queue' | 'table', string>;
    await waitUntilAnswering([found.blob, found.queue, found.table], Date.now() + startTimeoutMs);
    return { child, urls: found };
  } catch (error) {
    await stopChild(child);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function pidFileOf(location: string): string {
  return path.join(location, 'azurite.pid');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A reused pid is not our Azurite: on Linux, look at what the process runs.
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('azurite');
  } catch {
    return true;
  }
}

/**
 * An Azurite that still holds the data folder (a previous run that crashed and is saving, or another run using
 * the same folder) must be gone before another one loads the same files.
 */
async function waitForPreviousAzurite(location: string, waitMs: number): Promise<void> {
  const file = pidFileOf(location);
  let pid: number;
  try {
    pid = Number(fs.readFileSync(file, 'utf8').trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0) return;
  const deadline = Date.now() + waitMs;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      throw new Error(
        `Azurite (pid ${pid}) still uses ${location}: another local run in this folder? Stop it, or give this ` +
          'run another data folder.',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  if (options.location) {
    fs.mkdirSync(options.location, { recursive: true });
    await waitForPreviousAzurite(options.location, options.previousWaitMs ?? 30_000);
  }
  // In-memory mode still needs a working directory; a throw-away one keeps the repository clean.
  const workDir = options.location ?? fs.mkdtempSync(path.join(os.tmpdir(), 'azurite-'));
  let started: Awaited<ReturnType<typeof launch>> | undefined;
  let lastError: unknown;
  for (let attempt = 1; attempt <= maxAttempts && !started; attempt++) {
    try {
      started = await launch(options, workDir);
    } catch (error) {
      lastError = error;
      // Only a lost port race is worth another try.
      if (!/EADDRINUSE/.test((error as Error).message)) break;
    }
  }
  if (!started) {
    if (!options.location) fs.rmSync(workDir, { recursive: true, force: true });
    throw lastError;
  }
  const { child, urls } = started;
  const blobUrl = `${urls.blob}/${devStoreAccount.name}`;
  const queueUrl = `${urls.queue}/${devStoreAccount.name}`;
  const tableUrl = `${urls.table}/${devStoreAccount.name}`;
  let stopping: Promise<void> | undefined;
  return {
    connectionString: connectionStringFor({ blobUrl, queueUrl, tableUrl }),
    blobUrl,
    queueUrl,
    tableUrl,
    stop: () =>
      (stopping ??= (async () => {
        await stopChild(child);
        if (!options.location) fs.rmSync(workDir, { recursive: true, force: true });
      })()),
  };
}
