import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import pLimit from 'p-limit';
import { ChaosReport, LONG } from '../support/chaos-report';
import { ChaosStack, sleep, startChaosStack, waitFor } from '../support/chaos-stack';

/**
 * Bad input on every route and on the queue: fast-check bodies, headers, path and query values (10,000 in
 * the long variant), the classic malformed bodies, and queue messages that are not ours. No answer may be
 * a 5xx, every error the service answers is problem+json, and nothing a stranger puts on the queue may
 * crash the worker or loop.
 */

const report = new ChaosReport('bad-input');
const RUNS = LONG ? 10_000 : 2_000;
const SEED = 4_242;

let stack: ChaosStack;

beforeAll(async () => {
  stack = await startChaosStack();
});

afterAll(async () => {
  await stack?.stop();
  report.print();
});

const example = (name: string): unknown =>
  JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'graph-examples', `${name}.json`), 'utf8'));

interface Sent {
  route: string;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array | string;
}

interface Seen {
  status: number;
  contentType: string | null;
  text: string;
}

/** Why an answer breaks the rules (undefined when it keeps them). */
function breaks(answer: Seen): string | undefined {
  if (answer.status >= 500) return `answered ${answer.status}`;
  if (answer.status < 400) return undefined;
  // The host's own refusals carry no body (a route that does not match: 404; no key: 401); ours are problems.
  if (answer.text === '') return [401, 404].includes(answer.status) ? undefined : `empty ${answer.status}`;
  if (!/^application\/problem\+json/.test(answer.contentType ?? '')) return `${answer.status} as ${answer.contentType}`;
  try {
    const problem = JSON.parse(answer.text) as { status?: number; title?: unknown; type?: unknown };
    if (problem.status !== answer.status || typeof problem.title !== 'string' || typeof problem.type !== 'string')
      return `${answer.status} with a malformed problem`;
  } catch {
    return `${answer.status} problem+json that is not JSON`;
  }
  return undefined;
}

async function send(request: Sent): Promise<Seen> {
  const answer = await stack.api(request.path, {
    method: request.method,
    headers: request.headers,
    body: request.method === 'POST' ? request.body : undefined,
  });
  return { status: answer.status, contentType: answer.headers.get('content-type'), text: await answer.text() };
}

// ---------------------------------------------------------------------------------------------
// Arbitraries.

const anyText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('..', '.', '%', '%2F', '%00', "'", "')", '\u0000', '\ud800', 'a'.repeat(300), '1e999', '-1', 'null'),
);

/** A header value fetch can send (Latin-1, no CR/LF/NUL). */
const headerText = fc
  .string({
    unit: fc
      .oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }))
      .map((c) => String.fromCharCode(c)),
    maxLength: 300,
  })
  .map((s) => s.trim());

const validCompact = fc.record({
  chatType: fc.constantFrom('group', 'oneOnOne'),
  topic: fc.string({ maxLength: 30 }),
  members: fc.array(
    fc.oneof(
      fc.integer({ min: 1, max: 999 }).map((n) => `user${300_000 + n}@contoso.com`),
      fc.record({ user: fc.constant('user300001@contoso.com'), role: fc.constantFrom('owner', 'guest', 'member') }),
      anyText,
    ),
    { maxLength: 5 },
  ),
});

/** A valid body (compact or a doc example) with one part replaced, removed or added. */
const mutated = fc
  .tuple(
    fc.oneof(
      validCompact.map((v) => v as Record<string, unknown>),
      fc.constantFrom(...['003-example-1', '003-example-3', '003-example-5', '002-example-2'].map(example)),
    ),
    fc.constantFrom(
      'chatType',
      'topic',
      'members',
      'externalId',
      'callbackUrl',
      'notBefore',
      'apps',
      'installedApps',
      'x',
    ),
    fc.oneof(fc.jsonValue(), anyText, fc.constant(undefined)),
  )
  .map(([base, key, value]) => JSON.stringify({ ...(base as object), [key]: value }));

const body = fc.oneof(
  { weight: 4, arbitrary: mutated },
  { weight: 2, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.json() },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify({ requests: [v, v] })) },
);

const headers = fc.record(
  {
    // Mostly JSON, so most bodies reach validation; the rest probe the media-type check.
    'content-type': fc.oneof(
      {
        weight: 6,
        arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/problem+json'),
      },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          'application/json; charset=latin1',
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          '',
        ),
      },
      { weight: 1, arbitrary: headerText },
    ),
    'idempotency-key': headerText,
    'webhook-id': headerText,
    'webhook-timestamp': fc.oneof(headerText, fc.integer().map(String)),
    'webhook-signature': headerText,
    accept: headerText,
  },
  { requiredKeys: ['content-type'] },
);

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// A lone surrogate cannot be percent-encoded (the client could not send it either).
const idSegment = fc.oneof(fc.uuid(), anyText).map((s) => encodeURIComponent(s.replace(LONE_SURROGATE, '\ufffd')));
const query = fc
  .array(
    fc.tuple(
      fc.constantFrom('state', 'externalId', 'top', 'since', 'continuationToken', '$filter', 'x'),
      fc.oneof(
        anyText,
        fc.integer().map(String),
        fc.constantFrom('queued', 'failed', '0', '1001', '2025-01-01T00:00:00Z'),
      ),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => new URLSearchParams(pairs).toString());

const request: fc.Arbitrary<Sent> = fc.oneof(
  fc.record({ headers, body }).map(({ headers, body }) => ({
    route: 'POST /requests',
    method: 'POST' as const,
    path: '/api/requests',
    headers,
    body,
  })),
  fc.record({ headers, body }).map(({ headers, body }) => ({
    route: 'POST /requests/batch',
    method: 'POST' as const,
    path: '/api/requests/batch',
    headers,
    body,
  })),
  fc.record({ headers, body, id: idSegment }).map(({ headers, body, id }) => ({
    route: 'POST /requests/{id}/retry',
    method: 'POST' as const,
    path: `/api/requests/${id}/retry`,
    headers,
    body,
  })),
  fc.record({ headers, id: idSegment }).map(({ headers, id }) => ({
    route: 'GET /requests/{id}',
    method: 'GET' as const,
    path: `/api/requests/${id}`,
    headers,
  })),
  fc.record({ headers, query }).map(({ headers, query }) => ({
    route: 'GET /requests',
    method: 'GET' as const,
    path: `/api/requests?${query}`,
    headers,
  })),
  fc.record({ headers, query }).map(({ headers, query }) => ({
    route: 'GET /health',
    method: 'GET' as const,
    path: `/api/health?${query}`,
    headers,
  })),
  fc
    .record({ headers })
    .map(({ headers }) => ({ route: 'GET /openapi.json', method: 'GET' as const, path: '/api/openapi.json', headers })),
);

describe('bad input', () => {
  it(
    `${RUNS} generated requests across every route: 0 answers 5xx, every error problem+json`,
    async () => {
      // Prepare
      const samples = fc.sample(request, { numRuns: RUNS, seed: SEED });
      const limit = pLimit(8);
      const broken: string[] = [];
      const byStatus: Record<string, number> = {};
      const byRoute: Record<string, number> = {};
      let unsendable = 0;

      // Act
      await Promise.all(
        samples.map((sample) =>
          limit(async () => {
            let seen: Seen;
            try {
              seen = await send(sample);
            } catch (error) {
              // fetch refuses to send some generated header values at all: nothing reached the host.
              if (/invalid .* header|Headers/i.test(String((error as Error & { cause?: Error }).cause ?? error))) {
                unsendable += 1;
                return;
              }
              throw error;
            }
            byStatus[seen.status] = (byStatus[seen.status] ?? 0) + 1;
            byRoute[sample.route] = (byRoute[sample.route] ?? 0) + 1;
            const why = breaks(seen);
            if (why) broken.push(`${sample.method} ${sample.path.slice(0, 80)}: ${why} ${seen.text.slice(0, 120)}`);
          }),
        ),
      );

      // Assess
      report.set('generated', {
        requests: samples.length,
        seed: SEED,
        answers5xx: Object.entries(byStatus)
          .filter(([s]) => Number(s) >= 500)
          .reduce((n, [, c]) => n + c, 0),
        notProblemJson: broken.length,
        unsendableByFetch: unsendable,
        byStatus,
        byRoute,
      });
      expect(broken.slice(0, 20)).toEqual([]);
    },
    LONG ? 20 * 60_000 : 5 * 60_000,
  );

  it('the classic malformed bodies: oversized, deeply nested, wrong content type, invalid UTF-8, and friends', async () => {
    const json = { 'content-type': 'application/json' };
    const member = (n: number): string => `user${310_000 + n}@contoso.com`;
    const cases: {
      name: string;
      path?: string;
      headers?: Record<string, string>;
      body: string | Uint8Array;
      status: number;
    }[] = [
      {
        name: 'over 1 MiB',
        body: JSON.stringify({ chatType: 'group', topic: 'x'.repeat(1024 * 1024), members: [] }),
        status: 413,
      },
      {
        name: 'batch over 16 MiB',
        path: '/api/requests/batch',
        body: JSON.stringify({ requests: ['x'.repeat(16 * 1024 * 1024)] }),
        status: 413,
      },
      { name: 'nested 100,000 arrays deep', body: `${'['.repeat(100_000)}${']'.repeat(100_000)}`, status: 400 },
      { name: 'nested 5,000 objects deep', body: `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`, status: 400 },
      { name: 'text/plain', headers: { 'content-type': 'text/plain' }, body: '{}', status: 415 },
      { name: 'application/xml', headers: { 'content-type': 'application/xml' }, body: '<chat/>', status: 415 },
      {
        name: 'form',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'chatType=group',
        status: 415,
      },
      { name: 'no content type', headers: {}, body: '{}', status: 415 },
      {
        name: 'charset utf-16',
        headers: { 'content-type': 'application/json; charset=utf-16' },
        body: '{}',
        status: 415,
      },
      {
        name: 'invalid UTF-8',
        body: Uint8Array.from([0x7b, 0x22, 0x61, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
        status: 400,
      },
      { name: 'overlong UTF-8 encoding of "/"', body: Uint8Array.from([0x22, 0xc0, 0xaf, 0x22]), status: 400 },
      { name: 'UTF-8 surrogate half', body: Uint8Array.from([0x22, 0xed, 0xa0, 0x80, 0x22]), status: 400 },
      { name: 'empty', body: '', status: 400 },
      { name: 'truncated', body: '{"chatType":"group","members":["a@b.c"', status: 400 },
      {
        name: 'lone surrogate escape in a UPN',
        body: JSON.stringify({ chatType: 'group', members: ['\ud800@contoso.com', member(1), member(2)] }),
        status: 400,
      },
      {
        name: 'NUL in a topic',
        body: JSON.stringify({ chatType: 'group', topic: 'a\u0000b', members: [member(1), member(2)] }),
        status: 202,
      },
      {
        name: '__proto__ member',
        body: `{"chatType":"group","__proto__":{"isAdmin":true},"members":["${member(1)}","${member(2)}"]}`,
        status: 400,
      },
      {
        name: 'constructor.prototype',
        body: `{"chatType":"group","constructor":{"prototype":{"x":1}},"members":["${member(1)}","${member(2)}"]}`,
        status: 400,
      },
      {
        name: 'number 1e400 as topic',
        body: `{"chatType":"group","topic":1e400,"members":["${member(1)}","${member(2)}"]}`,
        status: 400,
      },
      {
        name: '10,000 members',
        body: JSON.stringify({ chatType: 'group', members: Array.from({ length: 10_000 }, (_, i) => member(i)) }),
        status: 400,
      },
      { name: 'a JSON string', body: '"group"', status: 400 },
      {
        name: 'batch of 1,001',
        path: '/api/requests/batch',
        body: JSON.stringify({ requests: Array.from({ length: 1001 }, () => ({})) }),
        status: 400,
      },
    ];
    const results: Record<string, number> = {};
    const broken: string[] = [];
    for (const c of cases) {
      const seen = await send({
        route: c.name,
        method: 'POST',
        path: c.path ?? '/api/requests',
        headers: c.headers ?? json,
        body: c.body,
      });
      results[c.name] = seen.status;
      const why = breaks(seen);
      if (why || seen.status !== c.status)
        broken.push(`${c.name}: ${seen.status} (expected ${c.status}) ${why ?? ''} ${seen.text.slice(0, 160)}`);
    }
    // Prototype pollution would show on any object of this process (the in-process host shares it).
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    report.set('malformed', { cases: cases.length, results });
    expect(broken).toEqual([]);
  }, 180_000);

  it('queue messages that are not ours are logged and dropped; nothing loops and the worker keeps working', async () => {
    // Prepare: a real request that finishes, so a stale copy of its message is among the strangers.
    const real = await stack.api('/api/requests', {
      method: 'POST',
      json: {
        chatType: 'group',
        topic: 'chaos real before',
        members: ['user320001@contoso.com', 'user320002@contoso.com', 'user320003@contoso.com'],
      },
    });
    const realId = ((await real.json()) as { id: string }).id;
    await waitFor('the real request', async () => {
      const r = (await (await stack.api(`/api/requests/${realId}`)).json()) as { state: string };
      return r.state === 'succeeded' ? true : undefined;
    });
    const b64 = (text: string | Buffer): string => Buffer.from(text).toString('base64');
    const unknownId = '01900000-0000-7000-8000-000000000000';
    const strangers: { name: string; text: string; ours: boolean }[] = [
      { name: 'not base64', text: 'hello, this is not base64 at all!', ours: false },
      { name: 'base64 of plain text', text: b64('not json at all'), ours: true },
      { name: 'base64 of {}', text: b64('{}'), ours: true },
      { name: 'base64 of []', text: b64('[]'), ours: true },
      { name: 'base64 of null', text: b64('null'), ours: true },
      { name: 'id is a number', text: b64('{"id":5,"attempt":0}'), ours: true },
      { name: 'id is a path', text: b64('{"id":"../../ChatRequests","attempt":0}'), ours: true },
      { name: 'negative attempt', text: b64(JSON.stringify({ id: realId, attempt: -1 })), ours: true },
      { name: 'extra fields', text: b64(JSON.stringify({ id: realId, attempt: 0, state: 'queued' })), ours: true },
      { name: 'unknown request id', text: b64(JSON.stringify({ id: unknownId, attempt: 0 })), ours: true },
      { name: 'stale copy of a finished request', text: b64(JSON.stringify({ id: realId, attempt: 0 })), ours: true },
      {
        name: 'random bytes (not UTF-8)',
        text: b64(Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 151) % 256))),
        ours: true,
      },
      { name: '40 KB of JSON', text: b64(JSON.stringify({ id: 'x'.repeat(40_000), attempt: 0 })), ours: true },
    ];
    const queue = stack.queue();
    const poison = stack.queue('chat-requests-poison');
    const linesBefore = stack.logs.length;

    // Act: every stranger on the work queue, two on the poison queue itself.
    const sentIds = new Set<string>();
    for (const s of strangers) sentIds.add((await queue.sendMessage(s.text)).messageId);
    await poison.sendMessage(b64('garbage on the poison queue'));
    await poison.sendMessage(b64(JSON.stringify({ id: unknownId, attempt: 3 })));
    await waitFor(
      'the work queue to drain',
      async () => {
        const props = await queue.getProperties();
        return props.approximateMessagesCount === 0 ? true : undefined;
      },
      60_000,
      500,
    );
    await sleep(5_000);

    // Assess
    const lines = stack.logs.slice(linesBefore);
    const invocations = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.event === 'invocation' && l.phase === 'end');
    const workerRuns = invocations.filter((l) => l.function === 'worker' && sentIds.has(String(l.messageId)));
    const poisonRuns = invocations.filter((l) => l.function === 'poison');
    const failedRuns = invocations.filter(
      (l) => l.outcome !== 'succeeded' && (l.function === 'worker' || l.function === 'poison'),
    );
    const dropped = lines.filter((l) =>
      /message\.invalid|message\.unknownRequest|message\.stale|poison\.invalidMessage|poison\.done/.test(l),
    );
    const queueEvents = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.event === 'queue' && !/polling|empty|renewed|deleted/.test(String(l.phase)));
    const poisoned = queueEvents.filter((l) => l.phase === 'poisoned');
    // Approximate count includes messages leased (invisible) by the poison listener.
    const poisonDepth = (await poison.getProperties()).approximateMessagesCount ?? 0;
    const after = await stack.api('/api/requests', {
      method: 'POST',
      json: {
        chatType: 'group',
        topic: 'chaos real after',
        members: ['user320004@contoso.com', 'user320005@contoso.com', 'user320006@contoso.com'],
      },
    });
    const afterId = ((await after.json()) as { id: string }).id;
    const afterState = await waitFor('the request after the strangers', async () => {
      const r = (await (await stack.api(`/api/requests/${afterId}`)).json()) as { state: string };
      return r.state === 'succeeded' || r.state === 'failed' ? r.state : undefined;
    });
    report.set('queueStrangers', {
      messages: strangers.length + 2,
      workerRuns: workerRuns.length,
      poisonRuns: poisonRuns.length,
      failedRuns: failedRuns.length,
      droppedWithLog: dropped.length,
      movedToPoisonByHost: poisoned.length,
      poisonQueueDepth: poisonDepth,
      hostQueueEvents: [...new Set(queueEvents.map((l) => `${l.function}:${l.phase}`))],
      workerAfter: afterState,
    });
    // Every message we could decode ran once and ended normally: no retries, no crash loop.
    expect(failedRuns).toEqual([]);
    expect(workerRuns.length).toBe(strangers.filter((s) => s.ours).length);
    // Only what the host itself cannot decode (not base64) is moved to the poison queue, once, before any
    // function runs (the queue extension's MessageDecodingFailed rule); there it stays, leased, not retried hot.
    expect(poisoned.map((l) => l.function)).toEqual(strangers.filter((s) => !s.ours).map(() => 'worker'));
    expect(poisonDepth).toBe(strangers.filter((s) => !s.ours).length);
    expect(dropped.length).toBeGreaterThanOrEqual(strangers.length - 1);
    expect(afterState).toBe('succeeded');
  }, 150_000);
});
