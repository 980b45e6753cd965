/**
 * The real functions (worker, poison, poller) in the local Functions host, on Azurite's queues and
 * the Graph simulator, with real (short) delays: NEW_USER_GRACE_MINUTES of a few seconds, a poll
 * every second, a short operation deadline. Requests are seeded the way intake leaves them (row +
 * message); the host's own log lines are captured and checked.
 */
import { randomBytes } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { QueueClient } from '@azure/storage-queue';
import { Webhook } from 'standardwebhooks';
import { startLocalHost, LocalHost } from '../../dev/host';
import { loadConfig } from '../../shared/platform/config';
import { newRequestId } from '../../shared/core/ids';
import { newChatRequest } from '../../shared/use-cases/intake';
import { ChatRequest, State } from '../../shared/core/model';
import { encodeRequestMessage } from '../../shared/core/queue/message';
import { parseProvisioningRequest } from '../../shared/core/request/parse';
import { payloadHash } from '../../shared/core/request/hash';
import { buildServices, Services } from '../../shared/platform/composition-root';
import { eventually, startStack, Stack } from '../support/stack';
import { testRequest } from '../support/requests';

const ROOT = resolve(__dirname, '../..');
const KEY = 'worker-host-key';
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const APP = '05F59CEC-A742-4A50-A62E-202A57E478A4';

let stack: Stack;
let host: LocalHost;
let svc: Services;
const hostLines: Record<string, unknown>[] = [];
let receiver: Server;
let receiverUrl: string;
const received: { id: string; verified: boolean; type: string }[] = [];

beforeAll(async () => {
  stack = await startStack({
    host: false,
    simulator: { tenantRps: 1000 },
    env: {
      NEW_USER_GRACE_MINUTES: '0.05',
      OPERATION_DEADLINE_MINUTES: '0.1',
      POLL_SCHEDULE: '*/1 * * * * *',
      CALLBACK_SIGNING_SECRET: SECRET,
      ALLOW_LOCALHOST_CALLBACKS: 'true',
    },
  });
  stack.sim.control.configure({ newHireReplicationSeconds: 1 });
  svc = buildServices(loadConfig(stack.env));
  await svc.ready();

  const webhook = new Webhook(SECRET);
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let verified = true;
      try {
        webhook.verify(text, {
          'webhook-id': String(req.headers['webhook-id']),
          'webhook-timestamp': String(req.headers['webhook-timestamp']),
          'webhook-signature': String(req.headers['webhook-signature']),
        });
      } catch {
        verified = false;
      }
      received.push({ id: String(req.headers['webhook-id']), verified, type: JSON.parse(text).type });
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  host = await startLocalHost({
    appRoot: ROOT,
    entryPoints: ['functions/*.ts'],
    port: 0,
    // debug: the log checks below read every event the app writes, Graph calls included.
    env: { ...stack.env, LOG_LEVEL: 'debug' },
    functionKeys: [KEY],
    logger: (line) => hostLines.push(line as Record<string, unknown>),
  });
});
afterAll(async () => {
  await host?.stop();
  await new Promise((r) => receiver?.close(r));
  await stack?.stop();
});
afterEach(() => stack.sim.control.clearFaults());

/** Row + message, as intake leaves them. */
async function submit(body: Record<string, unknown>, callbackUrl?: string): Promise<ChatRequest> {
  const request = testRequest(body);
  if (callbackUrl) request.callback = { url: callbackUrl, state: 'pending', attempts: 0 };
  await svc.store.create(request);
  await svc.queue.send({ id: request.id, attempt: 0 });
  return request;
}

async function resource(id: string): Promise<Record<string, unknown> & { state: string }> {
  const answer = await fetch(`${host.url}/api/requests/${id}`, { headers: { 'x-functions-key': KEY } });
  expect(answer.status).toBe(200);
  return (await answer.json()) as Record<string, unknown> & { state: string };
}

function final(id: string) {
  return eventually(async () => {
    const current = (await svc.store.get(id))!.value;
    return current.state === State.succeeded || current.state === State.failed ? current : undefined;
  }, 300);
}

const members = (...users: string[]) => ({ chatType: 'group', members: ['user1@contoso.com', ...users] });

describe('worker in the Functions host', () => {
  it('a new hire (404 until replicated) succeeds within NEW_USER_GRACE_MINUTES; an unlicensed member fails after it', async () => {
    const newHire = await submit({ ...members('newhire41@contoso.com', 'user2@contoso.com'), topic: 'New hire' });
    const unlicensed = await submit({ ...members('unlicensed@contoso.com', 'user2@contoso.com'), topic: 'No license' });

    const hired = await final(newHire.id);
    const refused = await final(unlicensed.id);

    expect(hired.state).toBe(State.succeeded);
    expect(hired.attempts).toBeGreaterThan(1);
    expect(refused.state).toBe(State.failed);
    expect(refused.attempts).toBeGreaterThan(1);
    expect(refused.error!.message).toMatch(/no Teams license.*NEW_USER_GRACE_MINUTES/s);
    expect(refused.error!.message).toContain('Failed to get license information for the user');
  });

  it('a 429 then a reset after Graph made the chat: retried through the queue, adopted, exactly one chat', async () => {
    const request = await submit({ ...members('user2@contoso.com', 'user3@contoso.com'), topic: 'Host crash' });
    stack.sim.control.addFault({
      match: { method: 'POST', pathPrefix: '/v1.0/chats' },
      fault: { type: 'status', status: 429, retryAfter: 0.5 },
    });
    stack.sim.control.addFault({
      match: { method: 'POST', pathPrefix: '/v1.0/chats' },
      phase: 'after',
      fault: { type: 'reset' },
    });

    const done = await final(request.id);

    const chats = stack.sim.control.chats().chats.filter((c) => c.topic === 'Host crash');
    expect(done.state).toBe(State.succeeded);
    expect(chats).toHaveLength(1);
    expect(done.chat?.id).toBe(chats[0]!.id);
    expect(done.attempts).toBe(3);
    const posts = stack.sim.control
      .requests()
      .filter((r) => r.method === 'POST' && r.path === '/v1.0/chats' && /Host crash/.test(JSON.stringify(r.body)));
    expect(posts).toHaveLength(2);
  });

  it('a 202 is followed by the timer to succeeded; a stalled one fails at OPERATION_DEADLINE_MINUTES', async () => {
    stack.sim.control.configure({ operationTimings: { inProgressAfterPolls: 0, succeededAfterPolls: 0 } });
    const ok = await submit({ ...members('user2@contoso.com'), topic: 'With app', apps: [{ teamsAppId: APP }] });
    const stalled = await submit({ ...members('user3@contoso.com'), topic: 'Stalls', apps: [{ teamsAppId: APP }] });
    const op = await eventually(async () => {
      const row = (await svc.store.get(stalled.id))!.value;
      return row.operation ? /operations\('([^']+)'\)/.exec(row.operation.location)![1] : undefined;
    });
    stack.sim.control.setOperationFate(op!, 'stall');

    const succeeded = await final(ok.id);
    const failed = await final(stalled.id);

    expect(succeeded.state).toBe(State.succeeded);
    expect(succeeded.chat?.webUrl).toMatch(/^https:\/\//);
    expect(failed.state).toBe(State.failed);
    expect(failed.error?.message).toMatch(/did not finish within 0\.1 minutes \(OPERATION_DEADLINE_MINUTES\)/);
    stack.sim.control.configure({ operationTimings: { inProgressAfterPolls: 1, succeededAfterPolls: 2 } });
  });

  it('callback: the receiver gets the signed event once; the resource shows it delivered', async () => {
    const request = await submit(
      { ...members('user4@contoso.com', 'user5@contoso.com'), topic: 'Callback' },
      receiverUrl,
    );
    await final(request.id);
    const shown = await eventually(async () => {
      const current = await resource(request.id);
      return (current.callback as { state?: string } | undefined)?.state === 'delivered' ? current : undefined;
    });
    expect(shown.callback).toEqual({ url: receiverUrl, state: 'delivered', attempts: 1 });
    const mine = received.filter((r) => r.id.startsWith(request.id));
    expect(mine).toEqual([{ id: `${request.id}.succeeded.1`, verified: true, type: 'chat.provisioned' }]);
  });
});

describe('poison queue in the Functions host', () => {
  const poisonQueue = () => new QueueClient(stack.azurite.connectionString, 'chat-requests-poison');

  it('a poisoned message fails its queued request with the reason; a pending one is left to the poller', async () => {
    // Prepare: one queued request (no message), one pending with a stalled operation.
    const now = new Date();
    const parsed = parseProvisioningRequest({ ...members('user6@contoso.com'), topic: 'Poisoned' }, now);
    if (!parsed.ok) throw new Error('bad fixture');
    const queued = newChatRequest(parsed.value, payloadHash(parsed.value), newRequestId(now), now);
    await svc.store.create(queued);
    stack.sim.control.configure({ defaultOperationFate: 'stall' });
    const pending = await submit({
      ...members('user7@contoso.com'),
      topic: 'Poisoned pending',
      apps: [{ teamsAppId: APP }],
    });
    await eventually(async () => ((await svc.store.get(pending.id))!.value.state === State.pending ? true : undefined));

    // Act: what the host does after maxDequeueCount failures: the message text, verbatim, in the poison queue.
    await poisonQueue().sendMessage(encodeRequestMessage({ id: queued.id, attempt: 0 }));
    await poisonQueue().sendMessage(encodeRequestMessage({ id: pending.id, attempt: 0 }));
    await poisonQueue().sendMessage(Buffer.from('not json').toString('base64'));

    // Assess
    const failed = await final(queued.id);
    expect(failed.state).toBe(State.failed);
    expect(failed.error).toMatchObject({ code: 'PoisonMessage', retryable: true });
    expect(failed.error!.message).toMatch(/poison queue/);
    expect(failed.error!.message).toContain(queued.id);
    await eventually(async () =>
      (await poisonQueue().getProperties()).approximateMessagesCount === 0 ? true : undefined,
    );
    // Left to the poller: still pending, or failed by the poller's deadline, never by the poison handler.
    const left = (await svc.store.get(pending.id))!.value;
    expect(['pending', 'failed']).toContain(left.state);
    expect(left.error?.code).not.toBe('PoisonMessage');
    stack.sim.control.configure({ defaultOperationFate: 'succeed' });
  });
});

describe('host logs', () => {
  it('are structured JSON with event, requestId, attempt, graphRequestId, and hold no member address or secret', () => {
    const userLines = hostLines.filter((l) => l.event === 'log' && l.category === 'user');
    expect(userLines.length).toBeGreaterThan(10);
    const events = userLines.map((l) => JSON.parse(String(l.message)) as Record<string, unknown>);
    for (const event of events) {
      expect(typeof event.event).toBe('string');
      if (event.requestId !== undefined) expect(typeof event.attempt).toBe('number');
    }
    const calls = events.filter((e) => e.event === 'graph.createChat' && typeof e.status === 'number');
    expect(calls.length).toBeGreaterThan(3);
    for (const call of calls) expect(call.graphRequestId).toEqual(expect.any(String));

    const all = JSON.stringify(hostLines);
    expect(all).not.toMatch(/@contoso\.com/i);
    for (const secret of [stack.sim.clientSecret, SECRET, SECRET.slice(6), 'Bearer ', 'eyJ', 'AccountKey=']) {
      expect(all).not.toContain(secret);
    }
  });
});
