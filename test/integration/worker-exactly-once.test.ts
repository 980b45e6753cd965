/**
 * Exactly once, against Azurite and the simulator: redelivered and concurrent messages, and the crash
 * cases where Graph made the chat but the worker never heard (reset, 503 or an answer held past the
 * client timeout after the work, or the worker dying between Graph's answer and the table write).
 * The simulator's own chat list is the judge: `chats()` must show exactly one chat.
 */
import { loadConfig } from '../../shared/platform/config';
import { createCredential, GraphChats, SdkGraphChats } from '../../shared/graph/graph-client';
import { jsonLogger } from '../../shared/platform/log';
import { ChatRequest, State } from '../../shared/core/model';
import { buildServices, Services } from '../../shared/platform/composition-root';
import { ATTEMPT_LEASE_MS, processRequestMessage, WorkerDeps } from '../../shared/use-cases/worker';
import { startStack, Stack } from '../support/stack';
import { seedRequest } from '../support/requests';

const POST_CHATS = { method: 'POST', pathPrefix: '/v1.0/chats' };
const FEDERATED_TENANT = '4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1';

let stack: Stack;
let serial = 0;
let svc: Services;
const lines: string[] = [];

beforeAll(async () => {
  stack = await startStack({ host: false, simulator: { tenantRps: 1000 } });
  svc = buildServices(
    loadConfig({ ...stack.env, CHAT_REQUESTS_QUEUE: 'exactly-once', CHAT_REQUESTS_TABLE: 'ExactlyOnce' }),
  );
  await svc.ready();
});
afterAll(async () => {
  await stack?.stop();
});
afterEach(() => stack.sim.control.clearFaults());

function deps(overrides: Partial<WorkerDeps> = {}, from: Services = svc): WorkerDeps {
  return {
    store: from.store,
    queue: from.queue,
    graph: from.graph,
    gate: from.gate,
    graceMinutes: 240,
    log: jsonLogger((_level, line) => lines.push(line)),
    random: () => 0.5,
    ...overrides,
  };
}

const seed = (body: unknown): Promise<ChatRequest> => seedRequest(svc.store, body);

function group(topic: string, members: unknown[] = ['user1@contoso.com', 'user2@contoso.com', 'user3@contoso.com']) {
  serial += 1;
  return { chatType: 'group', topic: `${topic} ${serial}`, members };
}

const row = async (id: string) => (await svc.store.get(id))!.value;
const chatsWithTopic = (topic: string) => stack.sim.control.chats().chats.filter((c) => c.topic === topic);
const postsSince = (seq: number) =>
  stack.sim.control.requests(seq).filter((r) => r.method === 'POST' && r.path === '/v1.0/chats');
const lastSeq = () => stack.sim.control.requests().at(-1)?.seq ?? 0;

/** Runs the request's next attempt once it is due (the clock jumps there; the queue delay is not awaited). */
async function nextAttempt(id: string, d: WorkerDeps) {
  const current = await row(id);
  const at = new Date(Math.max(Date.now(), Date.parse(current.nextAttemptAt ?? current.updatedAt)));
  return processRequestMessage({ id, attempt: current.attempts }, { ...d, now: () => at });
}

describe('exactly once', () => {
  it('a redelivered message makes no second chat', async () => {
    const body = group('Redelivered');
    const request = await seed(body);
    const since = lastSeq();
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps())).toBe('succeeded');
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps())).toBe('stale-message');
    expect(postsSince(since)).toHaveLength(1);
    expect(chatsWithTopic(body.topic)).toHaveLength(1);
  });

  it('two deliveries of one message at once, on two instances: one Graph POST', async () => {
    // Two "instances": their own clients and rate gates, one table and queue.
    const other = buildServices(
      loadConfig({ ...stack.env, CHAT_REQUESTS_QUEUE: 'exactly-once', CHAT_REQUESTS_TABLE: 'ExactlyOnce' }),
    );
    const body = group('Concurrent');
    const request = await seed(body);
    const since = lastSeq();
    const results = await Promise.all([
      processRequestMessage({ id: request.id, attempt: 0 }, deps()),
      processRequestMessage({ id: request.id, attempt: 0 }, deps({}, other)),
    ]);
    expect(results).toContain('succeeded');
    expect(results.filter((r) => r === 'succeeded')).toHaveLength(1);
    expect(postsSince(since)).toHaveLength(1);
    expect(chatsWithTopic(body.topic)).toHaveLength(1);
    expect((await row(request.id)).attempts).toBe(1);
  });

  it('ten deliveries of one message at once: one Graph POST', async () => {
    const body = group('Ten at once');
    const request = await seed(body);
    const since = lastSeq();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => processRequestMessage({ id: request.id, attempt: 0 }, deps())),
    );
    expect(results.filter((r) => r === 'succeeded')).toHaveLength(1);
    expect(postsSince(since)).toHaveLength(1);
    expect(chatsWithTopic(body.topic)).toHaveLength(1);
  });

  const neverHeard = [
    ['a connection reset', { type: 'reset' }],
    ['a 503', { type: 'status', status: 503, retryAfter: null }],
    ['an answer held past the client timeout', { type: 'delay', ms: 6000 }],
  ] as const;

  it.each(neverHeard)(
    'Graph made the chat but the worker got %s: the redelivery adopts it; one chat',
    async (_name, fault) => {
      // Prepare: for the held answer, a client with a short timeout, so it times out quickly; the other faults keep
      // the service's timeout, so the lookups of the next attempt (several GETs) are not cut short on a busy machine.
      const config = loadConfig(stack.env);
      const timeout = fault.type === 'delay' ? { timeoutMs: 2000 } : {};
      const graph = new SdkGraphChats(createCredential(config.graph), config.graph, timeout);
      const body = group('Never heard');
      const request = await seed(body);
      const since = lastSeq();
      stack.sim.control.addFault({ match: POST_CHATS, phase: 'after', fault });

      // Act: the first attempt cannot know; the next one looks before posting.
      expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps({ graph }))).toBe('retry');
      const unknown = await row(request.id);
      expect(unknown.state).toBe(State.queued);
      expect(unknown.outcomeUnknownSince).toBeDefined();
      expect(await nextAttempt(request.id, deps({ graph }))).toBe('adopted');

      // Assess: one POST, one chat, and the request names it.
      const done = await row(request.id);
      const made = chatsWithTopic(body.topic);
      expect(made).toHaveLength(1);
      expect(postsSince(since)).toHaveLength(1);
      expect(done.state).toBe(State.succeeded);
      expect(done.chat).toMatchObject({ id: made[0]!.id, webUrl: expect.stringMatching(/^https:\/\//) });
      expect(done.outcomeUnknownSince).toBeUndefined();
    },
  );

  it("the worker dies between Graph's 201 and the table write: after the lease, redelivery adopts; one chat", async () => {
    // Prepare: a Graph port that does the real POST, then the process "dies" before anything is written.
    const killed: GraphChats = {
      ...bindAll(svc.graph),
      async createChat(body) {
        await svc.graph.createChat(body);
        throw new Error('worker process killed');
      },
    };
    const body = group('Crash');
    const request = await seed(body);
    const since = lastSeq();
    const start = Date.now();

    // Act 1: the crash. The row stays `creating`; the host would redeliver the message.
    await expect(
      processRequestMessage({ id: request.id, attempt: 0 }, deps({ graph: killed, now: () => new Date(start) })),
    ).rejects.toThrow('killed');
    expect((await row(request.id)).state).toBe(State.creating);
    expect(chatsWithTopic(body.topic)).toHaveLength(1);

    // Act 2: a redelivery inside the lease waits (the attempt might still be running) ...
    const early = await processRequestMessage(
      { id: request.id, attempt: 0 },
      deps({ now: () => new Date(start + 1000) }),
    );
    expect(early).toBe('deferred');
    // ... and after the lease takes over, looks, and adopts.
    const late = await processRequestMessage(
      { id: request.id, attempt: 0 },
      deps({ now: () => new Date(start + ATTEMPT_LEASE_MS + 1000) }),
    );

    // Assess
    expect(late).toBe('adopted');
    const done = await row(request.id);
    expect(done.state).toBe(State.succeeded);
    expect(done.attempts).toBe(2);
    expect(done.chat?.id).toBe(chatsWithTopic(body.topic)[0]!.id);
    expect(chatsWithTopic(body.topic)).toHaveLength(1);
    expect(postsSince(since)).toHaveLength(1);
  });

  it('unknown outcome, but Graph had not made the chat: the lookup finds nothing and the retry posts once', async () => {
    const body = group('Not made');
    const request = await seed(body);
    const since = lastSeq();
    stack.sim.control.addFault({ match: POST_CHATS, phase: 'before', fault: { type: 'reset' } });
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps())).toBe('retry');
    expect(await nextAttempt(request.id, deps())).toBe('succeeded');
    expect(chatsWithTopic(body.topic)).toHaveLength(1);
    expect(postsSince(since)).toHaveLength(2);
  });

  it('a chat with the same members but another topic is not adopted', async () => {
    const body = group('Lookalike');
    const request = await seed(body);
    await svc.graph.createChat({ ...request.graphBody, topic: `${body.topic} (other)` });
    stack.sim.control.addFault({ match: POST_CHATS, phase: 'before', fault: { type: 'status', status: 503 } });
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps())).toBe('retry');
    expect(await nextAttempt(request.id, deps())).toBe('succeeded');
    const done = await row(request.id);
    expect(done.chat?.id).toBe(chatsWithTopic(body.topic)[0]!.id);
  });

  it('a federated first member and 30 members (Graph expands 25): still found and adopted', async () => {
    stack.sim.control.addFederatedTenant(FEDERATED_TENANT);
    const members = [
      { user: '7b3c1a2d-0000-4000-8000-000000000001', tenantId: FEDERATED_TENANT },
      ...Array.from({ length: 29 }, (_, i) => `user${200 + i}@contoso.com`),
    ];
    const body = group('Big', members);
    const request = await seed(body);
    const since = lastSeq();
    stack.sim.control.addFault({ match: POST_CHATS, phase: 'after', fault: { type: 'reset' } });
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps())).toBe('retry');
    expect(await nextAttempt(request.id, deps())).toBe('adopted');
    expect(chatsWithTopic(body.topic)).toHaveLength(1);
    expect(postsSince(since)).toHaveLength(1);
    // The listing asked about a member of this tenant (Graph cannot list a federated user's chats).
    const listing = stack.sim.control
      .requests(since)
      .find((r) => r.method === 'GET' && /\/users\/.*\/chats/.test(r.path));
    expect(decodeURIComponent(listing!.path)).toContain('user200@contoso.com');
  });

  it('oneOnOne after an unknown outcome simply posts again: Graph returns the same chat', async () => {
    const body = { chatType: 'oneOnOne', members: ['user301@contoso.com', 'user302@contoso.com'] };
    const request = await seed(body);
    const before = stack.sim.control.chats().count;
    stack.sim.control.addFault({ match: POST_CHATS, phase: 'after', fault: { type: 'reset' } });
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps())).toBe('retry');
    expect(await nextAttempt(request.id, deps())).toBe('succeeded');
    expect(stack.sim.control.chats().count).toBe(before + 1);
    expect((await row(request.id)).chat?.id).toMatch(/@unq\.gbl\.spaces$/);
  });

  it('logs are structured (event, requestId, attempt, graphRequestId) with no member address or secret', async () => {
    // Prepare: everything above logged into `lines`; add a not-found member and a 429 to the mix.
    const since = lines.length;
    const request = await seed(group('Logs', ['user1@contoso.com', 'missing.person@contoso.com']));
    await processRequestMessage({ id: request.id, attempt: 0 }, deps());
    const throttled = await seed(group('Logs 429'));
    stack.sim.control.addFault({ match: POST_CHATS, fault: { type: 'status', status: 429, retryAfter: 0.1 } });
    await processRequestMessage({ id: throttled.id, attempt: 0 }, deps());
    expect(lines.length).toBeGreaterThan(since);

    // Assess
    const events = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const event of events) {
      expect(typeof event.event).toBe('string');
      if (event.requestId !== undefined) expect(typeof event.attempt).toBe('number');
    }
    const graphCalls = events.filter((e) => e.event === 'graph.createChat' && typeof e.status === 'number');
    expect(graphCalls.length).toBeGreaterThan(5);
    for (const call of graphCalls) {
      expect(call).toMatchObject({ requestId: expect.any(String), attempt: expect.any(Number) });
      expect(call.graphRequestId).toEqual(expect.any(String));
    }
    expect(events.map((e) => e.event)).toEqual(
      expect.arrayContaining(['graph.createChat', 'request.retryScheduled', 'chat.adopted', 'request.succeeded']),
    );
    const all = lines.join('\n');
    const members = stack.sim.control.users().flatMap((u) => [u.userPrincipalName, u.id, ...(u.mail ? [u.mail] : [])]);
    for (const secret of [stack.sim.clientSecret, 'Bearer', 'eyJ', 'AccountKey', ...members]) {
      expect(all).not.toContain(secret);
    }
    expect(all).not.toMatch(/@contoso\.com/i);
  });
});

function bindAll(graph: GraphChats): GraphChats {
  return {
    createChat: graph.createChat.bind(graph),
    getOperation: graph.getOperation.bind(graph),
    getChat: graph.getChat.bind(graph),
    listUserChats: graph.listUserChats.bind(graph),
    getUserId: graph.getUserId.bind(graph),
    resolveLocation: graph.resolveLocation.bind(graph),
  };
}
