/**
 * Standard Webhooks signatures on the POST routes, through HTTP with WEBHOOK_SIGNING_SECRET set.
 * Requests are signed with the `standardwebhooks` package itself (Webhook.sign), as a sender would.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { startStack, Stack } from '../support/stack';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const OTHER_SECRET = `whsec_${randomBytes(32).toString('base64')}`;

interface ProblemBody {
  status: number;
  title: string;
  detail?: string;
}

const body = (topic: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ chatType: 'group', topic, members: ['user1@contoso.com', 'user2@contoso.com'], ...extra });

function signed(text: string, options: { id?: string; at?: Date; secret?: string } = {}): Record<string, string> {
  const id = options.id ?? `msg_${randomUUID()}`;
  const at = options.at ?? new Date();
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(options.secret ?? SECRET).sign(id, at, text),
  };
}

describe('webhook signatures (WEBHOOK_SIGNING_SECRET set)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      env: { WEBHOOK_SIGNING_SECRET: SECRET, 'AzureWebJobs.worker.Disabled': 'true' },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const post = (path: string, text: string, headers: Record<string, string>) =>
    stack.api(path, { method: 'POST', body: text, headers });

  async function unauthorized(answer: Response): Promise<ProblemBody> {
    expect(answer.status).toBe(401);
    expect(answer.headers.get('content-type')).toBe('application/problem+json');
    expect(answer.headers.get('www-authenticate')).toBe('Standard-Webhooks');
    const problem = (await answer.json()) as ProblemBody;
    expect(problem.status).toBe(401);
    return problem;
  }

  describe.each(['/api/requests', '/api/requests/batch'])('POST %s', (path) => {
    const payload = (topic: string) => (path.endsWith('batch') ? `{"requests":[${body(topic)}]}` : body(topic));

    it('401 without any webhook headers', async () => {
      // Act
      const problem = await unauthorized(await post(path, payload('unsigned'), { 'content-type': 'application/json' }));

      // Assess
      expect(problem.detail).toMatch(/webhook-id, webhook-timestamp, webhook-signature/);
    });

    it('401 when one header is missing', async () => {
      // Prepare
      const text = payload('no signature');
      const { 'webhook-signature': _dropped, ...headers } = signed(text);

      // Act
      const problem = await unauthorized(await post(path, text, headers));

      // Assess
      expect(problem.detail).toMatch(/webhook-signature/);
    });

    it.each([
      ['signed with another secret', (text: string) => signed(text, { secret: OTHER_SECRET })],
      ['signed over another body', (text: string) => signed(`${text} `)],
      ['signed for another webhook-id', (text: string) => ({ ...signed(text), 'webhook-id': 'msg_other' })],
      ['a signature that is not v1', (text: string) => ({ ...signed(text), 'webhook-signature': 'v2,abc' })],
      ['a timestamp that is not a number', (text: string) => ({ ...signed(text), 'webhook-timestamp': 'yesterday' })],
    ])('401 for %s', async (_name, sign) => {
      // Prepare
      const text = payload('wrong');

      // Act
      const problem = await unauthorized(await post(path, text, sign(text)));

      // Assess
      expect(problem.title).toBe('Invalid webhook signature');
    });

    it.each([
      ['more than 5 minutes old', -6 * 60_000, /too old/],
      ['more than 5 minutes ahead', 6 * 60_000, /too new/],
    ])('401 for a correct signature with a timestamp %s', async (_name, offsetMs, reason) => {
      // Prepare
      const text = payload('stale');

      // Act
      const problem = await unauthorized(await post(path, text, signed(text, { at: new Date(Date.now() + offsetMs) })));

      // Assess
      expect(problem.detail).toMatch(reason);
    });

    it('accepts a correctly signed request, also 4 minutes old and with a rotated-secret signature list', async () => {
      // Prepare
      const text = payload(`signed ${randomUUID()}`);
      const fresh = signed(text);
      const older = signed(text, { at: new Date(Date.now() - 4 * 60_000) });
      // Senders rotating secrets send several space-separated signatures; one match is enough.
      const rotated = {
        ...older,
        'webhook-signature': `${signed(text, { id: older['webhook-id'], secret: OTHER_SECRET, at: new Date(Number(older['webhook-timestamp']) * 1000) })['webhook-signature']} ${older['webhook-signature']}`,
      };

      // Act
      const first = await post(path, text, fresh);
      const second = await post(path, text, rotated);

      // Assess
      const ok = path.endsWith('batch') ? 200 : 202;
      expect([first.status, second.status]).toEqual([ok, ok]);
    });

    it('a correctly signed body that is not JSON is a 400 naming the position, not a 401', async () => {
      // Prepare
      const text = '{"chatType": "group",';

      // Act
      const answer = await post(path, text, signed(text));

      // Assess
      expect(answer.status).toBe(400);
      expect(((await answer.json()) as ProblemBody).detail).toMatch(/line 1, column 22/);
    });
  });

  it('a replay of the same signed message (same webhook-id) is idempotent: 200 + Idempotent-Replayed, same id', async () => {
    // Prepare
    const text = body(`replayed ${randomUUID()}`);
    const id = `msg_${randomUUID()}`;
    const first = await post('/api/requests', text, signed(text, { id }));
    const created = (await first.json()) as { id: string };

    // Act: the sender retries the same message, signed again a little later
    const retry = await post('/api/requests', text, signed(text, { id, at: new Date(Date.now() + 1000) }));
    const otherBody = body(`changed ${randomUUID()}`);
    const reused = await post('/api/requests', otherBody, signed(otherBody, { id }));

    // Assess
    expect(first.status).toBe(202);
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(((await retry.json()) as { id: string }).id).toBe(created.id);
    expect(reused.status).toBe(422);
    expect(((await reused.json()) as ProblemBody).detail).toMatch(/webhook-id/);
  });

  it('a replayed signed batch replays its items, also those without externalId', async () => {
    // Prepare
    const text = `{"requests":[${body(`b1 ${randomUUID()}`)},${body(`b2 ${randomUUID()}`, { externalId: randomUUID() })}]}`;
    const id = `msg_${randomUUID()}`;
    const first = await post('/api/requests/batch', text, signed(text, { id }));
    const created = (await first.json()) as { results: { status: string; id: string }[] };

    // Act
    const retry = await post('/api/requests/batch', text, signed(text, { id }));

    // Assess
    const replayed = (await retry.json()) as { results: { status: string; id: string }[] };
    expect(created.results.map((r) => r.status)).toEqual(['accepted', 'accepted']);
    expect(replayed.results).toEqual(created.results.map((r) => ({ ...r, status: 'replayed' })));
  });

  it('generated signature headers: a 401 problem unless the signature is right, never a 5xx', async () => {
    // Prepare: header values fetch can send, mixed with parts of a real signature
    const text = body(`generated ${randomUUID()}`);
    const real = signed(text);
    const value = (genuine: string) =>
      fc.oneof(
        fc.constant(genuine),
        fc.stringMatching(/^[\x20-\x7e]{0,60}$/),
        fc.constantFrom('v1,', 'v1,AAAA', `v1,${'A'.repeat(44)}`, '0', '-1', '99999999999999999999', ' '),
      );
    const headers = fc.record(
      {
        'webhook-id': value(real['webhook-id']!),
        'webhook-timestamp': value(real['webhook-timestamp']!),
        'webhook-signature': value(real['webhook-signature']!),
      },
      { requiredKeys: [] },
    );

    // Act + Assess
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/api/requests', '/api/requests/batch'), headers, async (path, sent) => {
        const payload = path.endsWith('batch') ? `{"requests":[${text}]}` : text;
        const genuine =
          path === '/api/requests' &&
          sent['webhook-id'] === real['webhook-id'] &&
          sent['webhook-timestamp'] === real['webhook-timestamp'] &&
          sent['webhook-signature'] === real['webhook-signature'];
        const answer = await post(path, payload, { 'content-type': 'application/json', ...sent });
        if (genuine) expect([200, 202]).toContain(answer.status);
        else {
          expect(answer.status).toBe(401);
          expect(((await answer.json()) as ProblemBody).status).toBe(401);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('GET routes need no signature', async () => {
    // Act
    const answer = await stack.api('/api/requests?top=1');

    // Assess
    expect(answer.status).toBe(200);
  });
});
