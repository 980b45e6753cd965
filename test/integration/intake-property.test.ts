/**
 * Property test through HTTP: thousands of generated bodies and headers against the intake routes
 * of the local host (real Azurite, worker disabled so nothing but intake competes for the machine).
 * Whatever arrives, the answer is never a 5xx, and every non-2xx is application/problem+json whose
 * `status` is the HTTP status. Bounded by numRuns so it takes about a minute on a small machine.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStack, Stack } from '../support/stack';

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'graph-examples', `${name}.json`), 'utf8'));

const FIXTURES = [1, 2, 3, 4, 5, 6, 7].map((n) => `003-example-${n}`).concat([1, 2, 3].map((n) => `002-example-${n}`));

/** Users that are valid, nearly valid, or hostile to the OData key and the URL. */
const user = fc.oneof(
  fc.nat(40).map((n) => `user${n}@contoso.com`),
  fc.constantFrom(
    "o'brien@contoso.com",
    "')/chats?$x=('",
    'a b@x.com',
    '',
    'é@x.com',
    '8ba98gf6-7fc2-4eb2-c7f2-aef9f21fd98g',
    '%27@x.com',
    'a#EXT#@x.com',
    '\u0000',
  ),
  fc.string({ maxLength: 40 }),
);

const compactMember = fc.oneof(
  user,
  fc.record(
    {
      user,
      role: fc.constantFrom('owner', 'guest', 'member', 7),
      tenantId: fc.constantFrom('4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1', 'x'),
    },
    { requiredKeys: ['user'] },
  ),
);

const compactBody = fc.record(
  {
    chatType: fc.constantFrom('group', 'oneOnOne', 'meeting', 'GROUP'),
    topic: fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('a:b', 'x'.repeat(251))),
    members: fc.array(compactMember, { maxLength: 6 }),
    apps: fc.array(
      fc.record(
        {
          teamsAppId: fc.oneof(fc.uuid(), fc.string({ maxLength: 10 })),
          rscPermissions: fc.array(fc.oneof(fc.constantFrom('ChatMessage.Read.Chat'), fc.string({ maxLength: 8 })), {
            maxLength: 2,
          }),
        },
        { requiredKeys: ['teamsAppId'] },
      ),
      { maxLength: 2 },
    ),
    externalId: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('x'.repeat(129), 'hr-1', 'hr-2')),
    callbackUrl: fc.oneof(fc.webUrl(), fc.constantFrom('http://x', 'https://u:p@x', 'nope')),
    notBefore: fc.oneof(
      fc
        .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
        .map((d) => d.toISOString()),
      fc.constantFrom('2025-02-30T08:00:00Z', 'tomorrow', '2025-01-01T00:00:00+25:00'),
      fc.integer(),
    ),
    constructor: fc.jsonValue({ maxDepth: 1 }),
  },
  { requiredKeys: ['chatType', 'members'] },
);

/** A documented body with a few random edits somewhere inside it. */
const editedFixture = fc
  .tuple(
    fc.constantFrom(...FIXTURES),
    fc.array(
      fc.tuple(
        fc.array(
          fc.oneof(
            fc.nat(3),
            fc.constantFrom(
              'members',
              'roles',
              'installedApps',
              'topic',
              'chatType',
              'user@odata.bind',
              '@odata.type',
              'tenantId',
              'teamsApp@odata.bind',
              'consentedPermissionSet',
              'resourceSpecificPermissions',
              'permissionType',
              'externalId',
              '__proto__',
            ),
          ),
          { maxLength: 5 },
        ),
        fc.jsonValue({ maxDepth: 3 }),
      ),
      { maxLength: 4 },
    ),
  )
  .map(([name, edits]) => {
    const body = fixture(name);
    for (const [path, value] of edits) {
      let node: unknown = body;
      for (const key of path.slice(0, -1)) {
        // Own properties only: node["__proto__"] would reach Object.prototype, shared with the host in this process.
        const next = Object.hasOwn(node as object, key) ? (node as Record<string | number, unknown>)[key] : undefined;
        if (typeof next !== 'object' || next === null) break;
        node = next;
      }
      const last = path.at(-1);
      if (last !== undefined && typeof node === 'object' && node !== null) {
        Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
      }
    }
    return body;
  });

const jsonBody = fc.oneof(
  { weight: 3, arbitrary: compactBody },
  { weight: 3, arbitrary: editedFixture },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
);

/** The bytes on the wire: mostly JSON of the bodies above, sometimes broken or not text at all. */
const wire = fc.oneof(
  { weight: 8, arbitrary: jsonBody.map((b) => Buffer.from(JSON.stringify(b) ?? 'null')) },
  {
    weight: 1,
    arbitrary: fc.tuple(jsonBody, fc.nat()).map(([b, cut]) => {
      const text = JSON.stringify(b) ?? 'null';
      return Buffer.from(text.slice(0, cut % (text.length + 1)));
    }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 64 }).map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.nat(80).map((depth) => Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`)) },
);

/** Header values fetch can send (visible ASCII), including too long and empty. */
const headerText = fc.oneof(
  fc.stringMatching(/^[\x21-\x7e]{1,40}$/),
  fc.constantFrom('', 'k'.repeat(257), 'shared-key-1', 'shared-key-2'),
);

const headers = fc.record(
  {
    'content-type': fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/json;charset="UTF-8"',
      'application/merge-patch+json',
      'application/json; charset=latin1',
      'text/plain',
      'multipart/form-data; boundary=x',
      '*/*',
    ),
    'idempotency-key': headerText,
    'webhook-id': headerText,
    'webhook-timestamp': fc.oneof(fc.integer().map(String), headerText),
    'webhook-signature': headerText,
  },
  { requiredKeys: [] },
);

describe('intake under generated input, through HTTP', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { 'AzureWebJobs.worker.Disabled': 'true' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** The invariant of every answer; returns the status so the test can see what it covered. */
  async function checkAnswer(path: string, body: Buffer, sent: Record<string, string>): Promise<number> {
    const answer = await stack.api(path, { method: 'POST', body, headers: sent });
    const text = await answer.text();
    const seen = JSON.stringify({
      path,
      status: answer.status,
      headers: sent,
      body: body.toString('utf8').slice(0, 300),
      answer: text.slice(0, 300),
    });
    const ok = answer.status >= 200 && answer.status < 300;
    if (!ok && !(answer.status >= 400 && answer.status < 500)) throw new Error(`not a 2xx or 4xx: ${seen}`);
    if (ok) {
      if (answer.headers.get('content-type') !== 'application/json') throw new Error(`2xx not JSON: ${seen}`);
      JSON.parse(text);
    } else {
      if (answer.headers.get('content-type') !== 'application/problem+json') throw new Error(`not a problem: ${seen}`);
      const problem = JSON.parse(text) as { status: unknown; title: unknown; type: unknown };
      if (problem.status !== answer.status || typeof problem.title !== 'string' || typeof problem.type !== 'string') {
        throw new Error(`problem does not match the answer: ${seen}`);
      }
    }
    return answer.status;
  }

  it('POST /api/requests: never a 5xx, every non-2xx a problem with the same status', async () => {
    // Prepare
    const statuses = new Map<number, number>();

    // Act + Assess
    await fc.assert(
      fc.asyncProperty(wire, headers, async (body, sent) => {
        const status = await checkAnswer('/api/requests', body, sent);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }),
      { numRuns: 5000 },
    );

    // Assess: the runs reached the deep paths, not only the front checks
    for (const status of [200, 202, 400, 415, 422])
      expect({ status, seen: (statuses.get(status) ?? 0) > 0 }).toEqual({ status, seen: true });
  });

  it('POST /api/requests/batch: never a 5xx, every non-2xx a problem with the same status', async () => {
    // Prepare
    const batchWire = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.array(jsonBody, { maxLength: 8 }).map((requests) => Buffer.from(JSON.stringify({ requests }))),
      },
      { weight: 1, arbitrary: wire },
    );
    const statuses = new Map<number, number>();

    // Act + Assess
    await fc.assert(
      fc.asyncProperty(batchWire, headers, async (body, sent) => {
        const status = await checkAnswer('/api/requests/batch', body, sent);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }),
      { numRuns: 1000 },
    );
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
  });
});
