import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { transpileFolders } from './ts-imports';

/**
 * The function app as a separate process, the way `node dist/dev/host/main.js` runs it, so a test can
 * `kill -9` it at a chosen moment and start it again. The sources are transpiled (not type-checked:
 * tsc does that in `npm test`) into a private folder, so the shared `dist/` is never touched and the
 * child runs exactly the code the in-process tests run.
 */

const ROOT = resolve(__dirname, '../..');
const FOLDERS = ['functions', 'shared', 'dev/host'];

let built: string | undefined;

/** Transpiles functions/, shared/ and dev/host/ once per test process; returns the app root. */
export function buildChildApp(): string {
  if (built) return built;
  const out = mkdtempSync(join(tmpdir(), 'chaos-app-'));
  transpileFolders(ROOT, FOLDERS, out);
  copyFileSync(join(ROOT, 'host.json'), join(out, 'host.json'));
  writeFileSync(join(out, 'package.json'), JSON.stringify({ name: 'chaos-app', main: 'functions/*.js' }));
  built = out;
  return out;
}

export interface ChildHostOptions {
  /** App settings (the child's whole environment besides PATH and NODE_PATH). */
  env: Record<string, string>;
  functionKey: string;
  /** Every stdout/stderr line of the child, as written. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** One run of the host process; `kill()` is `kill -9`. */
export class ChildHost {
  url = '';
  readonly lines: string[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(private readonly options: ChildHostOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return Boolean(this.child && this.child.exitCode === null && this.child.signalCode === null);
  }

  async start(): Promise<void> {
    if (this.running) throw new Error('the host is running already');
    const app = buildChildApp();
    const child = spawn(
      process.execPath,
      [join(app, 'dev/host/main.js'), '--app-root', app, '--port', '0', '--log-format', 'json'],
      {
        cwd: app,
        env: {
          PATH: process.env.PATH ?? '',
          NODE_PATH: join(ROOT, 'node_modules'),
          LOCAL_HOST_FUNCTION_KEYS: this.options.functionKey,
          ...this.options.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    this.exited = new Promise((done) => child.once('exit', () => done()));
    const started = new Promise<string>((done, fail) => {
      const onLine = (line: string): void => {
        if (!line.includes('"phase":"started"')) return;
        try {
          done(String((JSON.parse(line) as { url: string }).url));
        } catch (error) {
          fail(error);
        }
      };
      this.readLines(child, onLine);
      child.once('exit', (code, signal) =>
        fail(new Error(`host exited during start (${code ?? signal}): ${this.lines.slice(-20).join('\n')}`)),
      );
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      this.url = await Promise.race([
        started,
        new Promise<string>((_, fail) => {
          timer = setTimeout(() => fail(new Error(`host did not start: ${this.lines.slice(-20).join('\n')}`)), 60_000);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private readLines(child: ChildProcess, onStarted: (line: string) => void): void {
    for (const [stream, name] of [
      [child.stdout, 'stdout'],
      [child.stderr, 'stderr'],
    ] as const) {
      let buffer = '';
      stream?.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        const parts = buffer.split('\n');
        buffer = parts.pop() ?? '';
        for (const line of parts) {
          this.lines.push(line);
          this.options.onLine?.(line, name);
          if (name === 'stdout') onStarted(line);
        }
      });
      stream?.on('end', () => {
        if (buffer) {
          this.lines.push(buffer);
          this.options.onLine?.(buffer, name);
        }
      });
    }
  }

  /** kill -9: no cleanup, no message deleted, no lease released. */
  async kill(): Promise<void> {
    if (!this.child) return;
    this.child.kill('SIGKILL');
    await this.exited;
    this.child = undefined;
  }

  /** SIGTERM: the host's own graceful stop. */
  async stop(): Promise<void> {
    if (!this.child) return;
    if (this.running) this.child.kill('SIGTERM');
    const bounded = await Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((done) => setTimeout(() => done(false), 20_000).unref()),
    ]);
    if (!bounded) this.child.kill('SIGKILL');
    await this.exited;
    this.child = undefined;
  }

  async api(path: string, init: RequestInit & { json?: unknown; key?: string | null } = {}): Promise<Response> {
    return callApi(this.url, this.options.functionKey, path, init);
  }
}

/** fetch against a host, with the function key (unless `key: null`) and a JSON body helper. */
export async function callApi(
  base: string,
  functionKey: string,
  path: string,
  init: RequestInit & { json?: unknown; key?: string | null } = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.key !== null) headers.set('x-functions-key', init.key ?? functionKey);
  let body = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  }
  const { json: _json, key: _key, ...rest } = init;
  return fetch(`${base}${path}`, { ...rest, headers, body });
}

/** A CA bundle for child processes: what NODE_EXTRA_CA_CERTS already names (this machine sets it) + the simulator's CA. */
export function caBundle(simulatorCa: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'chaos-ca-'));
  const path = join(dir, 'bundle.pem');
  let existing = '';
  const current = process.env.NODE_EXTRA_CA_CERTS;
  if (current) {
    try {
      existing = readFileSync(current, 'utf8');
      if (!existing.endsWith('\n')) existing += '\n';
    } catch {
      existing = '';
    }
  }
  writeFileSync(path, `${existing}${simulatorCa}`);
  return path;
}
