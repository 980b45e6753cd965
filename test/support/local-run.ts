import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { transpileFolders } from './ts-imports';

/**
 * `npm start` as a separate process (`node dist/dev/start.js`), in a private copy of the project: the sources are
 * transpiled once per test process (tsc type-checks them in `npm test`) into `<copy>/dist`, beside the files
 * `npm start` reads (host.json, package.json, the example users, the banner's example), with `node_modules`
 * linked. The copy has no local.settings.json, so a developer's own settings cannot leak in; each run gets its own
 * data folder (LOCAL_DATA_DIR) and a free host port (LOCAL_HOST_PORT=0).
 */

const ROOT = resolve(__dirname, '../..');
const FOLDERS = ['functions', 'shared', 'dev'];
const FILES = [
  'host.json',
  'package.json',
  'dev/simulator/example-users.json',
  'test/fixtures/graph-examples/003-example-1.json',
];

let built: string | undefined;

export function buildLocalRun(): string {
  if (built) return built;
  const out = mkdtempSync(join(tmpdir(), 'local-run-'));
  transpileFolders(ROOT, FOLDERS, join(out, 'dist'));
  for (const file of FILES) {
    mkdirSync(dirname(join(out, file)), { recursive: true });
    copyFileSync(join(ROOT, file), join(out, file));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'), 'dir');
  built = out;
  return out;
}

export interface Banner {
  url: string;
  key: string;
  simulatorUrl: string;
  caPath: string;
}

/** Reads what a newcomer reads: the host URL and key from the CLI's export line, the simulator's URL and CA. */
export function parseBanner(text: string): Banner | undefined {
  const exported = /export CHAT_PROVISIONER_URL=(\S+) CHAT_PROVISIONER_KEY=(\S+)/.exec(text);
  const control = /Graph simulator control API: (https:\/\/\S+)\/_sim {2}\(its CA certificate: ([^;]+);/.exec(text);
  if (!exported || !control) return undefined;
  return {
    url: exported[1] as string,
    key: exported[2] as string,
    simulatorUrl: control[1] as string,
    caPath: control[2] as string,
  };
}

export interface LocalRunExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** One `npm start` process. */
export class LocalRun {
  output = '';
  private child: ChildProcess | undefined;
  private exit: Promise<LocalRunExit> | undefined;

  constructor(
    readonly dataDir: string,
    private readonly env: Record<string, string> = {},
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts it; resolves with the banner, or with the exit when it refuses to start. */
  start(): Promise<{ banner: Banner } | { exit: LocalRunExit }> {
    const root = buildLocalRun();
    const child = spawn(process.execPath, [join(root, 'dist', 'dev', 'start.js')], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? tmpdir(),
        LOCAL_DATA_DIR: this.dataDir,
        LOCAL_HOST_PORT: '0',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, like a command started from a shell: kill() hits the whole group.
      detached: true,
    });
    this.child = child;
    const append = (chunk: Buffer): void => {
      this.output += chunk.toString();
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    this.exit = new Promise((done) =>
      child.once('exit', (code, signal) => done({ code, signal, output: this.output })),
    );
    return new Promise((done) => {
      const onData = (): void => {
        // The banner ends with the simulator's lines; wait for its last one.
        if (!this.output.includes('new-hire grace before it fails)')) return;
        const banner = parseBanner(this.output);
        if (!banner) return;
        child.stdout?.off('data', onData);
        done({ banner });
      };
      child.stdout?.on('data', onData);
      void this.exit?.then((exit) => done({ exit }));
    });
  }

  /**
   * `kill -9` of the run's whole process group (as a terminal's job control or a supervisor does it): no handler
   * runs, nothing is cleaned up, and every process of the group dies at once.
   */
  async kill(): Promise<void> {
    if (this.child?.pid) process.kill(-this.child.pid, 'SIGKILL');
    await this.exit;
  }

  /** Ctrl-C. */
  async stop(): Promise<LocalRunExit | undefined> {
    if (!this.child?.pid || this.child.exitCode !== null || this.child.signalCode !== null) return this.exit;
    // Ctrl-C reaches every process of the foreground group.
    process.kill(-this.child.pid, 'SIGINT');
    return this.exit;
  }
}

/** A JSON call to the local run's host. */
export async function callHost(
  banner: Banner,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${banner.url}${path}`, {
    method,
    headers: { 'x-functions-key': banner.key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** A call to the simulator's control API, trusting its CA file as the banner names it. */
export function callSimulator(banner: Banner, method: string, path: string, body?: unknown): Promise<unknown> {
  const ca = readFileSync(banner.caPath);
  return new Promise((done, fail) => {
    const request = https.request(
      `${banner.simulatorUrl}${path}`,
      { method, ca, headers: body === undefined ? {} : { 'content-type': 'application/json' } },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => {
          if ((response.statusCode ?? 500) >= 400) fail(new Error(`${method} ${path}: ${response.statusCode} ${text}`));
          else done(text ? (JSON.parse(text) as unknown) : undefined);
        });
      },
    );
    request.on('error', fail);
    request.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Resolves once no process holds the pid in `<data>/azurite/azurite.pid` (the previous run's Azurite has saved). */
export async function azuriteGone(dataDir: string): Promise<void> {
  const file = join(dataDir, 'azurite', 'azurite.pid');
  for (;;) {
    let pid: number;
    try {
      pid = Number(readFileSync(file, 'utf8'));
    } catch {
      return;
    }
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((done) => setTimeout(done, 100));
  }
}
