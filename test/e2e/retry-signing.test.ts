/**
 * The operators' retry route while WEBHOOK_SIGNING_SECRET is set: signed like every POST (docs/api.md), so a
 * function key alone is refused with a problem that says what to do, and the CLI, given the secret, retries.
 * NEW_USER_GRACE_MINUTES=0 makes the request fail at once (its member has no license).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { main } from '../../cli';
import { eventually, startStack, Stack } from '../support/stack';
import { CapturedOutput } from '../support/captured-output';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

describe('POST /api/requests/{id}/retry with signing on', () => {
  let stack: Stack;
  let failedId: string;

  async function cli(signingSecret: string | undefined, ...args: string[]) {
    const out = new CapturedOutput();
    const err = new CapturedOutput();
    const code = await main(
      ['node', 'chat-provisioner', ...args],
      { url: stack.host!.url, key: stack.functionKey, ...(signingSecret ? { signingSecret } : {}) },
      { out, err },
    );
    return { code, out: out.text, err: err.text };
  }

  const state = async (id: string): Promise<string> =>
    ((await (await stack.api(`/api/requests/${id}`)).json()) as { state: string }).state;

  beforeAll(async () => {
    stack = await startStack({ env: { WEBHOOK_SIGNING_SECRET: SECRET, NEW_USER_GRACE_MINUTES: '0' } });
    const text = JSON.stringify({
      chatType: 'group',
      topic: 'Retry signing',
      externalId: 'retry-signing-1',
      members: ['unlicensed1@contoso.com', 'user2@contoso.com', 'user3@contoso.com'],
    });
    const id = `msg_${randomUUID()}`;
    const at = new Date();
    const accepted = await stack.api('/api/requests', {
      method: 'POST',
      body: text,
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': new Webhook(SECRET).sign(id, at, text),
      },
    });
    expect(accepted.status).toBe(202);
    failedId = ((await accepted.json()) as { id: string }).id;
    await eventually(async () => ((await state(failedId)) === 'failed' ? true : undefined));
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('a function key alone is refused: 401 naming the missing signature and how operators sign', async () => {
    const answer = await stack.api(`/api/requests/${failedId}/retry`, { method: 'POST' });
    expect(answer.status).toBe(401);
    expect(answer.headers.get('content-type')).toBe('application/problem+json');
    expect(answer.headers.get('www-authenticate')).toBe('Standard-Webhooks');
    const problem = (await answer.json()) as { detail: string };
    expect(problem.detail).toMatch(/webhook-/);
    expect(problem.detail).toMatch(/CHAT_PROVISIONER_SIGNING_SECRET/);
    expect(await state(failedId)).toBe('failed');
  });

  it('the CLI without the secret is refused, and says so; with it, the retry is queued', async () => {
    const unsigned = await cli(undefined, 'retry', failedId);
    expect(unsigned.code).not.toBe(0);
    expect(`${unsigned.out}${unsigned.err}`).toMatch(/signature|401/i);
    expect(await state(failedId)).toBe('failed');

    const signed = await cli(SECRET, 'retry', failedId);
    expect({ code: signed.code, err: signed.err }).toEqual({ code: 0, err: '' });
    expect(signed.out).toMatch(/queued/i);
    // Queued again, then (no grace, still no license) failed again: the retry really ran.
    await eventually(async () => ((await state(failedId)) === 'failed' ? true : undefined));
    const after = (await (await stack.api(`/api/requests/${failedId}`)).json()) as { attempts: number };
    expect(after.attempts).toBeGreaterThanOrEqual(2);
  });
});
