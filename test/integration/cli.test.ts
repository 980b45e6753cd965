/**
 * The CLI's commands against a test double of the HTTP API: a real http.createServer on 127.0.0.1
 * that keeps the API's contract (docs/api.md) in memory (batch with idempotent replays, list with
 * nextLink, status, retry, health, problem+json errors, and 503 + Retry-After on demand).
 */
import { promises as fs } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { health } from '../../cli/commands/health';
import { list } from '../../cli/commands/list';
import { retry } from '../../cli/commands/retry';
import { status } from '../../cli/commands/status';
import { submit } from '../../cli/commands/submit';
import { watch } from '../../cli/commands/watch';
import { CommandContext, createContext } from '../../cli/context';
import { ExitCode } from '../../cli/exit-codes';
import { cliEnvironment, main, resolveTarget } from '../../cli/index';
import type { ChatRequestResource, State } from '../../shared/core/model';
import { parseProvisioningRequest } from '../../shared/core/request/parse';
import { CapturedOutput } from '../support/captured-output';

const KEY = 'test-function-key';
const PAGE_MAX = 2; // small pages, so listing has to follow nextLink

interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  body?: unknown;
}

/** The API, in memory. */
class FakeApi {
  readonly calls: Call[] = [];
  readonly requests = new Map<string, ChatRequestResource & { payload: string }>();
  /** The next n batch calls answer 503 with Retry-After: 1. */
  batchOutages = 0;
  /** Each status GET moves the request it asks for one step. */
  autoAdvance = false;
  private server?: Server;
  private sequence = 0;
  private clock = Date.parse('2026-11-24T10:00:00Z');

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      void this.handle(req, res);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  batchCalls(): Call[] {
    return this.calls.filter((call) => call.path === '/api/requests/batch');
  }

  /** Puts a request straight into the store (for list, status, retry). */
  seed(externalId: string, state: State, extra: Partial<ChatRequestResource> = {}): string {
    const id = this.newId();
    const at = this.tick();
    this.requests.set(id, {
      id,
      externalId,
      state,
      chatType: 'group',
      topic: `Topic ${externalId}`,
      members: [
        { user: 'a@contoso.com', role: 'owner' },
        { user: 'b@contoso.com', role: 'owner' },
      ],
      createdAt: at,
      updatedAt: at,
      attempts: state === 'queued' ? 0 : 1,
      payload: '',
      ...extra,
    });
    return id;
  }

  private newId(): string {
    this.sequence += 1;
    return `0193a1b2-0000-7000-8000-${String(this.sequence).padStart(12, '0')}`;
  }

  private tick(): string {
    this.clock += 1000;
    return new Date(this.clock).toISOString();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://api');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const call: Call = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams };
    if (text) call.body = JSON.parse(text);
    this.calls.push(call);

    if (url.pathname === '/api/health') return send(res, 200, { status: 'healthy', storage: { ok: true } });
    if (req.headers['x-functions-key'] !== KEY) {
      return problem(res, 401, 'Unauthorized', 'A valid function key is required (x-functions-key).');
    }
    const byId = /^\/api\/requests\/([^/]+)(\/retry)?$/.exec(url.pathname);
    if (url.pathname === '/api/requests/batch' && req.method === 'POST') return this.batch(res, call.body);
    if (url.pathname === '/api/requests' && req.method === 'GET') return this.list(res, url.searchParams);
    if (byId && req.method === 'GET' && !byId[2]) return this.get(res, decodeURIComponent(byId[1]!));
    if (byId && req.method === 'POST' && byId[2]) return this.retry(res, decodeURIComponent(byId[1]!));
    return problem(res, 404, 'Not Found', `No route ${req.method} ${url.pathname}`);
  }

  private batch(res: ServerResponse, body: unknown): void {
    if (this.batchOutages > 0) {
      this.batchOutages -= 1;
      return problem(res, 503, 'Storage is unavailable', 'Retry later with the same idempotency key.', {
        'retry-after': '1',
      });
    }
    const requests = (body as { requests?: unknown[] }).requests ?? [];
    if (requests.length > 1000) return problem(res, 400, 'Too many requests in a batch', 'At most 1000.');
    let accepted = 0;
    let rejected = 0;
    const results = requests.map((item, index) => {
      const parsed = parseProvisioningRequest(item, new Date());
      if (!parsed.ok) {
        rejected += 1;
        return { index, status: 'rejected', errors: parsed.errors };
      }
      const blocked = parsed.value.members.findIndex((member) => member.user.startsWith('blocked'));
      if (blocked >= 0) {
        rejected += 1;
        return {
          index,
          status: 'rejected',
          errors: [{ path: `members[${blocked}].user`, message: 'the user is blocked' }],
        };
      }
      const payload = JSON.stringify(item);
      const existing = [...this.requests.values()].find((r) => r.externalId === parsed.value.externalId);
      if (existing) {
        if (existing.payload !== payload) {
          rejected += 1;
          return {
            index,
            status: 'rejected',
            errors: [{ path: 'externalId', message: 'already used for another request' }],
          };
        }
        accepted += 1;
        return { index, status: 'replayed', id: existing.id };
      }
      const id = this.newId();
      const at = this.tick();
      const resource: ChatRequestResource & { payload: string } = {
        id,
        state: 'queued',
        chatType: parsed.value.chatType,
        members: parsed.value.members,
        createdAt: at,
        updatedAt: at,
        attempts: 0,
        payload,
      };
      if (parsed.value.externalId !== undefined) resource.externalId = parsed.value.externalId;
      if (parsed.value.topic !== undefined) resource.topic = parsed.value.topic;
      this.requests.set(id, resource);
      accepted += 1;
      return { index, status: 'accepted', id };
    });
    send(res, 200, { accepted, rejected, results });
  }

  private advance(only: string): void {
    if (this.autoAdvance) this.step(only);
  }

  /** Moves open requests one step: queued → creating → succeeded (or failed for externalIds with "fail"). */
  step(only?: string): void {
    for (const request of this.requests.values()) {
      if (only !== undefined && request.id !== only) continue;
      if (request.state === 'queued') {
        request.state = 'creating';
        request.attempts += 1;
      } else if (request.state === 'creating' && (request.externalId ?? '').includes('fail')) {
        request.state = 'failed';
        request.error = {
          code: 'Forbidden',
          message: 'Failed to get license information for the user',
          retryable: false,
          httpStatus: 403,
          graphRequestId: 'g-7',
        };
      } else if (request.state === 'creating') {
        request.state = 'succeeded';
        request.chat = { id: `19:${request.id}@thread.v2` };
      } else {
        continue;
      }
      request.updatedAt = this.tick();
    }
  }

  private view(request: ChatRequestResource & { payload: string }): ChatRequestResource {
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    const { payload, ...resource } = request;
    return resource;
  }

  private get(res: ServerResponse, id: string): void {
    this.advance(id);
    const request = this.requests.get(id);
    if (!request) return problem(res, 404, 'Request not found', `No request has the id ${id}.`);
    send(res, 200, this.view(request));
  }

  private list(res: ServerResponse, query: URLSearchParams): void {
    const state = query.get('state');
    const externalId = query.get('externalId');
    const since = query.get('since');
    const top = Math.min(Number(query.get('top') ?? 100), PAGE_MAX);
    const offset = Number(query.get('continuationToken') ?? 0);
    const all = [...this.requests.values()]
      .filter((r) => !state || r.state === state)
      .filter((r) => !externalId || r.externalId === externalId) // exact, as the API's lookup by idempotency key
      .filter((r) => !since || r.createdAt >= since)
      .sort((a, b) => b.id.localeCompare(a.id));
    const value = all.slice(offset, offset + top).map((r) => this.view(r));
    const body: { value: ChatRequestResource[]; nextLink?: string } = { value };
    if (offset + top < all.length) {
      const next = new URLSearchParams(query);
      next.set('continuationToken', String(offset + top));
      body.nextLink = `/api/requests?${next.toString()}`;
    }
    send(res, 200, body);
  }

  private retry(res: ServerResponse, id: string): void {
    const request = this.requests.get(id);
    if (!request) return problem(res, 404, 'Request not found', `No request has the id ${id}.`);
    if (request.state !== 'failed') {
      return problem(
        res,
        409,
        'Request is not failed',
        `The request is ${request.state}; only failed requests can be retried.`,
        {},
        {
          state: request.state,
        },
      );
    }
    request.state = 'queued';
    delete request.error;
    request.updatedAt = this.tick();
    send(res, 202, this.view(request));
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function problem(
  res: ServerResponse,
  status: number,
  title: string,
  detail: string,
  headers: Record<string, string> = {},
  extensions: Record<string, unknown> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/problem+json', ...headers });
  res.end(JSON.stringify({ type: 'about:blank', title, status, detail, ...extensions }));
}

interface Harness {
  ctx: CommandContext;
  out: CapturedOutput;
  err: CapturedOutput;
  sleeps: number[];
}

/** A context with a fake clock: sleeping moves time on at once, so watch and retries run instantly. */
function harness(baseUrl: string, key: string | undefined = KEY, onSleep?: () => void): Harness {
  const out = new CapturedOutput();
  const err = new CapturedOutput();
  const sleeps: number[] = [];
  let now = Date.parse('2026-11-24T10:30:00Z');
  const ctx = createContext({
    baseUrl,
    key,
    out,
    err,
    now: () => new Date(now),
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
      onSleep?.();
    },
    client: { random: () => 1 },
  });
  return { ctx, out, err, sleeps };
}

const HEADER = 'externalId,chatType,topic,members,owners,guests';

function rowsCsv(count: number, prefix = 'bulk-'): string {
  const lines = [HEADER];
  for (let i = 1; i <= count; i += 1)
    lines.push(`${prefix}${i},group,Welcome ${i},new${i}@contoso.com;buddy@contoso.com,mgr@contoso.com,`);
  return `${lines.join('\n')}\n`;
}

let api: FakeApi;
let baseUrl: string;
let dir: string;

beforeEach(async () => {
  api = new FakeApi();
  baseUrl = await api.start();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cli-test-'));
});

afterEach(async () => {
  await api.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

async function writeFile(name: string, content: string): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, content);
  return file;
}

async function readResults(file: string): Promise<string[][]> {
  return (await fs.readFile(file, 'utf8'))
    .trim()
    .split('\r\n')
    .map((line) => line.split(','));
}

describe('submit', () => {
  it('lists every bad row with its real line number and sends nothing', async () => {
    // Prepare: lines 2-3 are one row (a quoted multi-line topic); lines 4, 6 and 7 are bad.
    const file = await writeFile(
      'hires.csv',
      [
        HEADER,
        'hr-1,group,"Welcome',
        'Ana",ana@contoso.com;li@contoso.com,,',
        ',group,No id,a@contoso.com;b@contoso.com,,',
        'hr-3,oneOnOne,,a@contoso.com;b@contoso.com,,',
        'hr-4,oneOnOne,Topic on 1:1,a@contoso.com;b@contoso.com,,',
        'hr-5,group,Guest twice,a@contoso.com,b@contoso.com,a@contoso.com',
      ].join('\n'),
    );
    const { ctx, out, err } = harness(baseUrl);

    // Act
    const code = await submit(file, {}, ctx);

    // Assess
    expect(code).toBe(ExitCode.usage);
    expect(api.batchCalls()).toHaveLength(0);
    expect(err.text).toContain('3 of 5 rows are invalid');
    expect(err.text).toMatch(/line 4: externalId: is required in a file/);
    expect(err.text).toMatch(/line 6 \(hr-4\): topic: .*not allowed for 1-on-1 chats/);
    expect(err.text).toMatch(/line 7 \(hr-5\): guests entry 1: .*same user/);
    expect(err.text).not.toMatch(/line [235]\b/);
    expect(err.text).toContain('Nothing was sent');
    expect(out.text).toBe('');
  });

  it('says plainly: a missing file, a header with no rows, no valid row, an unknown encoding', async () => {
    const cases: [string[], string][] = [
      [[path.join(dir, 'nope.csv')], `${path.join(dir, 'nope.csv')}: not found`],
      [[await writeFile('header.csv', `${HEADER}\n`)], 'has a header but no rows under it: nothing to send.'],
      [
        [await writeFile('bad.csv', `${HEADER}\nx-1,party,T,a@contoso.com;b@contoso.com,,\n`)],
        'Nothing was sent: no row is valid. Fix it and run again.',
      ],
      [[await writeFile('any.csv', rowsCsv(1)), '--encoding', 'klingon'], '--encoding: unknown encoding "klingon"'],
    ];
    for (const [args, message] of cases) {
      const err = new CapturedOutput();
      const code = await main(
        ['node', 'cli', '--url', baseUrl, 'submit', ...args],
        { key: KEY },
        { out: new CapturedOutput(), err },
      );
      expect(code).toBe(ExitCode.usage);
      expect(err.text).toContain(message);
      expect(err.text).not.toContain('--skip-invalid to send the 0');
    }
    expect(api.batchCalls()).toEqual([]);
  });

  it('a Latin-1 file is refused unless --encoding says so, then é arrives as é', async () => {
    const file = path.join(dir, 'latin1.csv');
    await fs.writeFile(
      file,
      Buffer.from(`${HEADER}\nhr-1,group,Bienvenue Zoé,a@contoso.com;b@contoso.com,,\n`, 'latin1'),
    );
    const err = new CapturedOutput();
    expect(
      await main(['node', 'cli', '--url', baseUrl, 'submit', file], { key: KEY }, { out: new CapturedOutput(), err }),
    ).toBe(ExitCode.usage);
    expect(err.text).toContain('line 2: the file is not UTF-8 text');
    expect(api.batchCalls()).toEqual([]);
    const code = await main(
      ['node', 'cli', '--url', baseUrl, 'submit', file, '--encoding', 'latin1'],
      { key: KEY },
      {
        out: new CapturedOutput(),
        err: new CapturedOutput(),
      },
    );
    expect(code).toBe(ExitCode.ok);
    const sent = api.batchCalls()[0]?.body as { requests: { topic: string }[] };
    expect(sent.requests[0]?.topic).toBe('Bienvenue Zoé');
  });

  it('with --skip-invalid sends the valid rows and records the invalid ones in the results file', async () => {
    // Prepare
    const file = await writeFile(
      'hires.csv',
      [HEADER, 'hr-1,group,Hi,a@contoso.com;b@contoso.com,,', 'hr-2,meeting,,a@contoso.com;b@contoso.com,,'].join('\n'),
    );
    const results = path.join(dir, 'results.csv');
    const { ctx, out } = harness(baseUrl);

    // Act
    const code = await submit(file, { skipInvalid: true, results }, ctx);

    // Assess
    expect(code).toBe(ExitCode.someFailed);
    expect(api.batchCalls()).toHaveLength(1);
    expect(out.text).toContain('1 accepted, 0 replayed, 0 rejected, 1 invalid (not sent)');
    const rows = await readResults(results);
    expect(rows[1]?.slice(0, 3)).toEqual(['2', 'hr-1', 'accepted']);
    expect(rows[2]?.slice(0, 3)).toEqual(['3', 'hr-2', 'invalid']);
  });

  it('sends 1200 rows in 3 batches, and a re-run is replayed', async () => {
    // Prepare
    const file = await writeFile('bulk.csv', rowsCsv(1200));
    const results = path.join(dir, 'results.csv');
    const first = harness(baseUrl);

    // Act
    const code = await submit(file, { chunk: 500, results }, first.ctx);

    // Assess
    expect(code).toBe(ExitCode.ok);
    expect(api.batchCalls().map((call) => (call.body as { requests: unknown[] }).requests.length)).toEqual([
      500, 500, 200,
    ]);
    expect(first.out.text).toContain('sent 1200 of 1200 rows in 3 batches: 1200 accepted, 0 replayed, 0 rejected.');
    expect(first.err.text).toContain('Sending bulk.csv: 500/1200');
    expect(first.err.text).toContain('Sending bulk.csv: 1200/1200');
    const rows = await readResults(results);
    expect(rows).toHaveLength(1201);
    expect(rows[1]?.slice(0, 3)).toEqual(['2', 'bulk-1', 'accepted']);
    expect(rows[1200]?.slice(0, 3)).toEqual(['1201', 'bulk-1200', 'accepted']);
    const ids = rows.slice(1).map((row) => row[3]);
    expect(new Set(ids).size).toBe(1200);

    // Act: the same file again
    const again = harness(baseUrl);
    const secondCode = await submit(file, { chunk: 500, results }, again.ctx);

    // Assess
    expect(secondCode).toBe(ExitCode.ok);
    expect(api.requests.size).toBe(1200);
    expect(again.out.text).toContain('0 accepted, 1200 replayed, 0 rejected');
    const replayed = await readResults(results);
    expect(replayed.slice(1).map((row) => row[2])).toEqual(Array(1200).fill('replayed'));
    expect(replayed.slice(1).map((row) => row[3])).toEqual(ids);
  });

  it('retries a chunk the API answered 503 with Retry-After, waiting as asked', async () => {
    // Prepare
    const file = await writeFile('hires.csv', rowsCsv(3));
    api.batchOutages = 1;
    const { ctx, out, err, sleeps } = harness(baseUrl);

    // Act
    const code = await submit(file, {}, ctx);

    // Assess
    expect(code).toBe(ExitCode.ok);
    expect(api.batchCalls()).toHaveLength(2);
    expect(sleeps).toEqual([1000]);
    expect(err.text).toContain('POST /api/requests/batch: HTTP 503; retrying in 1s (attempt 2 of 6)');
    expect(out.text).toContain('3 accepted');
  });

  it('stops when the API stays unavailable, marks unsent rows and exits 3', async () => {
    // Prepare
    const file = await writeFile('hires.csv', rowsCsv(5));
    const results = path.join(dir, 'results.csv');
    api.batchOutages = 100;
    const { ctx, err } = harness(baseUrl);

    // Act
    const code = await submit(file, { chunk: 2, results }, ctx);

    // Assess
    expect(code).toBe(ExitCode.unavailable);
    expect(api.batchCalls()).toHaveLength(6);
    expect(err.text).toContain('answered 503 Storage is unavailable');
    expect(err.text).toContain('Retry later with the same idempotency key.');
    expect(err.text).toContain('5 rows not sent. Re-running the file is safe');
    expect((await readResults(results)).slice(1).map((row) => row[2])).toEqual(Array(5).fill('not-sent'));
    expect(err.text).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('reports rows the API rejected with their line and the column they came from', async () => {
    // Prepare
    const file = await writeFile(
      'hires.csv',
      [
        HEADER,
        'hr-1,group,Hi,a@contoso.com;b@contoso.com,,',
        'hr-2,group,Hi,a@contoso.com;b@contoso.com,blocked@contoso.com,',
      ].join('\n'),
    );
    const results = path.join(dir, 'results.csv');
    const { ctx, out, err } = harness(baseUrl);

    // Act
    const code = await submit(file, { results }, ctx);

    // Assess
    expect(code).toBe(ExitCode.someFailed);
    expect(out.text).toContain('1 accepted, 0 replayed, 1 rejected');
    expect(err.text).toContain('line 3 (hr-2): owners entry 1: the user is blocked');
    expect((await readResults(results))[2]?.slice(0, 3)).toEqual(['3', 'hr-2', 'rejected']);
  });

  it('sends JSONL lines as they are, Graph bodies included', async () => {
    // Prepare
    const file = await writeFile(
      'hires.jsonl',
      await fs.readFile(path.join(__dirname, '../../examples/new-hires.jsonl'), 'utf8'),
    );
    const { ctx, out } = harness(baseUrl);

    // Act
    const code = await submit(file, {}, ctx);

    // Assess
    expect(code).toBe(ExitCode.ok);
    expect(out.text).toContain('6 accepted');
    const sent = (api.batchCalls()[0]?.body as { requests: Record<string, unknown>[] }).requests;
    expect(sent[5]?.members).toEqual(
      expect.arrayContaining([expect.objectContaining({ 'user@odata.bind': expect.any(String) })]),
    );
  });

  it('accepts the example CSV as it is', async () => {
    // Prepare
    const { ctx, out } = harness(baseUrl);

    // Act
    const code = await submit(path.join(__dirname, '../../examples/new-hires.csv'), { dryRun: true }, ctx);

    // Assess
    expect(code).toBe(ExitCode.ok);
    expect(out.text).toContain('Dry run: 10 valid rows of 10 rows');
    expect(api.calls).toHaveLength(0);
  });
});

describe('list', () => {
  it('follows nextLink and prints an aligned table', async () => {
    // Prepare
    for (let i = 1; i <= 5; i += 1)
      api.seed(
        `hr-${i}`,
        i === 3 ? 'failed' : i === 5 ? 'queued' : 'succeeded',
        i === 5
          ? {
              waiting: { reason: 'notBefore', until: '2026-11-25T08:00:00Z', message: 'Waits for its notBefore time.' },
            }
          : {},
      );
    api.seed('other-1', 'queued');
    const { ctx, out } = harness(baseUrl);

    // Act
    const code = await list({ externalPrefix: 'hr-' }, ctx);

    // Assess
    expect(code).toBe(ExitCode.ok);
    const gets = api.calls.filter((call) => call.path === '/api/requests');
    expect(gets).toHaveLength(3);
    expect(gets.map((call) => call.query.get('continuationToken'))).toEqual([null, '2', '4']);
    expect(gets.every((call) => !call.query.has('externalId'))).toBe(true); // the API's filter is exact
    const lines = out.text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+EXTERNAL ID\s+STATE\s+WAITING\s+ATTEMPTS\s+UPDATED\s+ERROR\s+GRAPH REQUEST ID$/);
    expect(lines).toHaveLength(7);
    expect(lines[6]).toBe('5 requests');
    const stateColumn = lines[0]!.indexOf('STATE');
    expect(lines.slice(1, 6).map((line) => line.slice(stateColumn).split(' ')[0])).toEqual([
      'queued',
      'succeeded',
      'failed',
      'succeeded',
      'succeeded',
    ]);
    expect(lines[1]).toMatch(/\squeued\s+notBefore until 2026-11-25T08:00:00Z\s+0\s/);
  });

  it('passes --state, --since and --top, and prints JSON lines', async () => {
    // Prepare
    for (let i = 1; i <= 5; i += 1) api.seed(`hr-${i}`, 'failed');
    const { ctx, out } = harness(baseUrl);

    // Act
    const code = await list({ state: 'failed', since: '1h', top: 3, json: true }, ctx);

    // Assess
    expect(code).toBe(ExitCode.ok);
    const first = api.calls.find((call) => call.path === '/api/requests');
    expect(first?.query.get('state')).toBe('failed');
    expect(first?.query.get('since')).toBe('2026-11-24T09:30:00.000Z');
    expect(first?.query.get('top')).toBe('3');
    const items = out.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as ChatRequestResource);
    expect(items.map((item) => item.externalId)).toEqual(['hr-5', 'hr-4', 'hr-3']);
  });

  it('looks up an exact --external-id', async () => {
    // Prepare
    api.seed('hr-1', 'succeeded');
    api.seed('hr-10', 'succeeded');
    const { ctx, out } = harness(baseUrl);

    // Act
    const code = await list({ externalId: 'hr-1', json: true }, ctx);

    // Assess
    expect(code).toBe(ExitCode.ok);
    expect(api.calls[0]?.query.get('externalId')).toBe('hr-1');
    expect(out.text.trim().split('\n')).toHaveLength(1);
  });

  it('refuses an unknown state before calling the API', async () => {
    const { ctx } = harness(baseUrl);
    await expect(list({ state: 'done' }, ctx)).rejects.toThrow(
      '--state must be one of queued, creating, pending, succeeded, failed',
    );
    expect(api.calls).toHaveLength(0);
  });
});

describe('status', () => {
  it('shows a request as a block, or as JSON', async () => {
    // Prepare
    const id = api.seed('hr-1', 'failed', {
      error: {
        code: 'NotFound',
        message: 'Failed to find users',
        retryable: false,
        graphRequestId: 'g-1',
        httpStatus: 404,
      },
    });
    const block = harness(baseUrl);
    const json = harness(baseUrl);

    // Act
    const blockCode = await status(id, {}, block.ctx);
    const jsonCode = await status(id, { json: true }, json.ctx);

    // Assess
    expect([blockCode, jsonCode]).toEqual([ExitCode.ok, ExitCode.ok]);
    expect(block.out.text).toContain(`id                ${id}`);
    expect(block.out.text).toContain('error             NotFound: Failed to find users');
    expect(block.out.text).toContain('graph request id  g-1');
    expect((JSON.parse(json.out.text) as ChatRequestResource).externalId).toBe('hr-1');
  });
});

describe('errors', () => {
  it('prints a problem+json answer (title and detail) and exits 1 for an unknown id', async () => {
    // Prepare
    const { out, err } = harness(baseUrl);

    // Act: through main, as the shell runs it
    const code = await main(
      ['node', 'chat-provisioner', '--url', baseUrl, 'status', 'nope'],
      { key: KEY },
      { out, err },
    );

    // Assess
    expect(code).toBe(ExitCode.someFailed);
    expect(err.text).toBe(
      `Error: GET ${baseUrl}/api/requests/nope answered 404 Request not found\n  No request has the id nope.\n`,
    );
  });

  it('says the key is missing or wrong, without printing it, and exits 2', async () => {
    // Prepare
    const { out, err } = harness(baseUrl);

    // Act
    const code = await main(['node', 'cli', '--url', baseUrl, 'list'], { key: 'wrong-key' }, { out, err });

    // Assess
    expect(code).toBe(ExitCode.usage);
    expect(err.text).toContain('answered 401 Unauthorized');
    expect(err.text).toContain('Set CHAT_PROVISIONER_KEY');
    expect(err.text).not.toContain('wrong-key');
  });

  it('names the URL it could not reach and where it came from, at once (no retries), and exits 3', async () => {
    // Prepare
    await api.stop();
    const { ctx, err, sleeps } = harness(baseUrl);

    // Act
    const code = await main(['node', 'cli', '--url', baseUrl, 'health'], {}, { out: new CapturedOutput(), err });
    const direct = await health({}, ctx).catch((error: Error) => error);

    // Assess: nobody listens there, so nothing is retried (no sleep), and the message says where the URL came from.
    expect(code).toBe(ExitCode.unavailable);
    expect(err.text).toContain(`Could not reach ${baseUrl}/api/health (ECONNREFUSED)`);
    expect(err.text).toContain('The address came from --url');
    expect(direct).toBeInstanceOf(Error);
    expect(sleeps).toEqual([]);
  });

  it('a missing key is said before anything is read or sent; --dry-run and health need none', async () => {
    const file = await writeFile('hires.csv', rowsCsv(3));
    const err = new CapturedOutput();
    const code = await main(['node', 'cli', '--url', baseUrl, 'submit', file], {}, { out: new CapturedOutput(), err });
    expect(code).toBe(ExitCode.usage);
    expect(err.text).toContain(`Error: no function key for ${baseUrl}: set CHAT_PROVISIONER_KEY`);
    for (const command of [['list'], ['status', 'x'], ['retry', 'x'], ['watch', '--external-prefix', 'x']]) {
      expect(await main(['node', 'cli', '--url', baseUrl, ...command], {}, { out: new CapturedOutput(), err })).toBe(
        ExitCode.usage,
      );
    }
    expect(api.calls).toEqual([]);
    expect(
      await main(
        ['node', 'cli', '--url', baseUrl, 'submit', file, '--dry-run'],
        {},
        { out: new CapturedOutput(), err },
      ),
    ).toBe(ExitCode.ok);
    expect(await main(['node', 'cli', '--url', baseUrl, 'health'], {}, { out: new CapturedOutput(), err })).toBe(
      ExitCode.ok,
    );
  });

  it('inside the project: the URL from local.settings.json Host.LocalHttpPort and the key npm start keeps', async () => {
    // Prepare: a checkout whose local host listens on the fake API's port; the CLI runs in a subfolder.
    const port = new URL(baseUrl).port;
    const project = path.join(dir, 'checkout');
    await fs.mkdir(path.join(project, '.data'), { recursive: true });
    await fs.mkdir(path.join(project, 'examples'));
    await fs.writeFile(path.join(project, 'host.json'), '{"version":"2.0"}');
    await fs.writeFile(path.join(project, 'package.json'), '{}');
    await fs.writeFile(
      path.join(project, 'local.settings.json'),
      JSON.stringify({ Host: { LocalHttpPort: Number(port) } }),
    );
    await fs.writeFile(path.join(project, '.data', 'function-key'), `${KEY}\n`);
    const out = new CapturedOutput();
    const err = new CapturedOutput();

    // Act
    const env = cliEnvironment({}, path.join(project, 'examples'));
    const code = await main(['node', 'cli', 'list'], env, { out, err });

    // Assess
    expect(env.project).toMatchObject({ dir: project, url: `http://localhost:${port}`, key: KEY });
    expect(code).toBe(ExitCode.ok);
    expect(api.calls.map((call) => call.path)).toEqual(['/api/requests']);
    // The variables still win, and the kept key never goes to an address that is not local.
    expect(resolveTarget(undefined, { ...env, url: 'https://chat.contoso.com' })).toEqual({
      url: 'https://chat.contoso.com',
      source: 'CHAT_PROVISIONER_URL',
    });
    expect(resolveTarget(undefined, { ...env, key: 'other' }).key).toBe('other');
    await api.stop();
    const refused = new CapturedOutput();
    await main(['node', 'cli', 'health'], env, { out: new CapturedOutput(), err: refused });
    expect(refused.text).toContain(`The address came from Host.LocalHttpPort in ${project}/local.settings.json`);
  });

  it('treats bad flags as usage errors (exit 2)', async () => {
    const err = new CapturedOutput();
    expect(await main(['node', 'cli', 'submit', 'x.csv', '--chunk', '0'], {}, { out: new CapturedOutput(), err })).toBe(
      ExitCode.usage,
    );
    expect(err.text).toContain('--chunk must be a whole number from 1 to 1000');
    expect(await main(['node', 'cli', 'watch', '--interval', 'often'], {}, { out: new CapturedOutput(), err })).toBe(
      ExitCode.usage,
    );
    expect(await main(['node', 'cli', '--url', 'ftp://x', 'health'], {}, { out: new CapturedOutput(), err })).toBe(
      ExitCode.usage,
    );
    expect(await main(['node', 'cli', 'nonsense'], {}, { out: new CapturedOutput(), err })).toBe(ExitCode.usage);
    expect(await main(['node', 'cli', '--help'], {}, { out: new CapturedOutput(), err })).toBe(ExitCode.ok);
  });
});

describe('retry', () => {
  it('queues a failed request; a 409 prints the state it is in', async () => {
    // Prepare
    const failed = api.seed('hr-1', 'failed');
    const done = api.seed('hr-2', 'succeeded');
    const first = harness(baseUrl);
    const second = harness(baseUrl);

    // Act
    const queued = await retry(failed, {}, first.ctx);
    const refused = await retry(done, {}, second.ctx);

    // Assess
    expect(queued).toBe(ExitCode.ok);
    expect(first.out.text).toBe(`${failed}: queued again (state queued)\n`);
    expect(refused).toBe(ExitCode.someFailed);
    expect(second.err.text).toContain(`${done}: not retried: it is succeeded, not failed`);
  });

  it('--all-failed retries every failed request the filters match', async () => {
    // Prepare
    const ids = [api.seed('hr-1', 'failed'), api.seed('hr-2', 'failed'), api.seed('hr-3', 'failed')];
    api.seed('ops-1', 'failed');
    api.seed('hr-4', 'succeeded');
    const { ctx, out } = harness(baseUrl);

    // Act
    const code = await retry(undefined, { allFailed: true, externalPrefix: 'hr-' }, ctx);

    // Assess
    expect(code).toBe(ExitCode.ok);
    const retried = api.calls.filter((call) => call.path.endsWith('/retry')).map((call) => call.path.split('/')[3]);
    expect(retried.sort()).toEqual([...ids].sort());
    expect(out.text).toContain('3 queued again, 0 not retried.');
  });
});

describe('watch', () => {
  it('polls the ids of a results file until all are final, then exits 0', async () => {
    // Prepare
    const file = await writeFile('hires.csv', rowsCsv(4));
    const results = path.join(dir, 'results.csv');
    expect(await submit(file, { results }, harness(baseUrl).ctx)).toBe(ExitCode.ok);
    api.autoAdvance = true;
    const { ctx, out, err, sleeps } = harness(baseUrl);

    // Act
    const code = await watch({ idsFrom: results, intervalMs: 2000 }, ctx);

    // Assess
    expect(code).toBe(ExitCode.ok);
    expect(out.text).toContain('All 4 requests are final after 2s: 4 succeeded.');
    expect(sleeps).toEqual([2000]);
    expect(err.text).toContain('Watching: 0/4 4 creating');
    expect(err.text).toContain('Watching: 4/4 4 succeeded');
    // Final requests are not asked for again.
    const statusCalls = api.calls.filter((call) => call.method === 'GET' && call.path.startsWith('/api/requests/'));
    expect(statusCalls).toHaveLength(8);
  });

  it('watches by externalId prefix and exits 1 listing the failures', async () => {
    // Prepare
    api.seed('hr-ok-1', 'queued');
    api.seed('hr-fail-2', 'queued');
    api.seed('hr-ok-3', 'succeeded');
    api.seed('ops-9', 'queued');
    const { ctx, out } = harness(baseUrl, KEY, () => api.step());

    // Act
    const code = await watch({ externalPrefix: 'hr-', intervalMs: 1000 }, ctx);

    // Assess
    expect(code).toBe(ExitCode.someFailed);
    expect(out.text).toContain('All 3 requests are final after 2s: 2 succeeded, 1 failed.');
    expect(out.text).toMatch(
      /Failed:\n\s+ID\s+EXTERNAL ID\s+CODE\s+MESSAGE\s+GRAPH REQUEST ID\n\s+\S+\s+hr-fail-2\s+Forbidden\s+Failed to get license/,
    );
  });

  it('with many open requests, lists the in-flight states instead of asking for each one', async () => {
    // Prepare: 60 requests; the service moves every request one step whenever the CLI sleeps.
    const file = await writeFile('hires.csv', rowsCsv(60));
    const results = path.join(dir, 'results.csv');
    expect(await submit(file, { results }, harness(baseUrl).ctx)).toBe(ExitCode.ok);
    const { ctx, out } = harness(baseUrl, KEY, () => api.step());
    const earliest = [...api.requests.values()].map((r) => r.createdAt).sort()[0];
    api.calls.length = 0;

    // Act
    const code = await watch({ idsFrom: results }, ctx);

    // Assess: 60 status calls to learn them, none while they are in flight, 60 once they left the lists.
    expect(code).toBe(ExitCode.ok);
    expect(out.text).toContain('All 60 requests are final after 4s: 60 succeeded.');
    const statusCalls = api.calls.filter((call) => call.path.startsWith('/api/requests/'));
    expect(statusCalls).toHaveLength(120);
    const listed = api.calls.filter((call) => call.path === '/api/requests' && !call.query.has('continuationToken'));
    expect(listed.map((call) => call.query.get('state'))).toEqual([
      'queued',
      'creating',
      'pending',
      'queued',
      'creating',
      'pending',
    ]);
    expect(listed.every((call) => call.query.get('since') === earliest)).toBe(true);
  });

  it('stops at --timeout and exits 1', async () => {
    // Prepare
    api.seed('hr-1', 'pending', {
      waiting: {
        reason: 'operationPending',
        until: '2026-11-24T10:31:00Z',
        message: 'Graph is still creating the chat (operation running); it is checked again at 2026-11-24T10:31:00Z.',
      },
    });
    const { ctx, out, err, sleeps } = harness(baseUrl);

    // Act
    const code = await watch({ externalPrefix: 'hr-', intervalMs: 2000, timeoutMs: 5000 }, ctx);

    // Assess: the service's `waiting` says why, in the progress line and at the end.
    expect(code).toBe(ExitCode.someFailed);
    expect(sleeps).toEqual([2000, 2000, 1000]);
    expect(out.text).toContain('Timed out after 5s: 1 of 1 requests are not final (1 pending).');
    expect(err.text).toContain('1 pending; waiting: 1 operationPending');
    expect(out.text).toMatch(
      /Not final yet, and why:\n\s+ID\s+EXTERNAL ID\s+STATE\s+WAITING\s+UNTIL\s+WHY\n\s+\S+\s+hr-1\s+pending\s+operationPending\s+2026-11-24T10:31:00Z\s+Graph is still creating the chat/,
    );
  });

  it('says so when nothing matches', async () => {
    const { ctx, err } = harness(baseUrl);
    expect(await watch({ externalPrefix: 'nobody-' }, ctx)).toBe(ExitCode.usage);
    expect(err.text).toContain('No requests have an externalId starting with "nobody-"');
  });
});

describe('health', () => {
  it('shows the report and exits 0', async () => {
    // Prepare
    const { ctx, out } = harness(baseUrl, undefined);

    // Act
    const code = await health({}, ctx);

    // Assess
    expect(code).toBe(ExitCode.ok);
    expect(out.text).toBe(`${baseUrl} is healthy (HTTP 200)\n  status      healthy\n  storage.ok  true\n`);
  });
});
