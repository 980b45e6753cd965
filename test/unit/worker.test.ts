import { MAX_TRANSIENT_FAILURES } from '../../shared/core/graph-retry-policy';
import { transition } from '../../shared/core/request-store';
import { noopCounters, setTelemetryCounters } from '../../shared/platform/telemetry';
import type { GraphChats } from '../../shared/graph/graph-client';
import { ChatRequest, State } from '../../shared/core/model';
import { aimdSettings } from '../../shared/core/rate/aimd';
import { GraphRateGate } from '../../shared/core/rate/gate';
import {
  ATTEMPT_LEASE_MS,
  FINAL_LOOK_DELAY_MS,
  MISSING_ROW_RETRY_SECONDS,
  processRequestMessage,
  WorkerDeps,
} from '../../shared/use-cases/worker';
import { MISSING_ROW_PATIENCE_MS } from '../../shared/core/queue/message';
import { silentLogger } from '../../shared/platform/log';
import { newRequestId } from '../../shared/core/ids';
import { MemoryFleetRateStore, MemoryQueue, MemoryRequestStore } from '../support/memory-store';
import { created, response, ScriptedGraph } from '../support/fake-graph';
import { seedRequest, testRequest } from '../support/requests';

const groupBody = {
  chatType: 'group',
  topic: 'Welcome Ana',
  members: ['ana@contoso.com', 'mgr@contoso.com', 'buddy@contoso.com'],
};

function setup(now = new Date('2026-11-24T12:00:00Z')) {
  const store = new MemoryRequestStore();
  const queue = new MemoryQueue();
  const graph = new ScriptedGraph();
  let clock = now.getTime();
  const started = Date.now();
  const deps: WorkerDeps = {
    store,
    queue,
    graph,
    // The gate's clock also moves with real time, so a waiting acquire() can end.
    gate: new GraphRateGate(
      aimdSettings(1000),
      new MemoryFleetRateStore(),
      'test',
      () => clock + (Date.now() - started),
    ),
    graceMinutes: 240,
    log: silentLogger,
    now: () => new Date(clock),
    random: () => 0.5,
  };
  return { store, queue, graph, deps, advance: (ms: number) => (clock += ms), now: () => new Date(clock) };
}

const seed = (store: MemoryRequestStore, body: unknown, now: Date): Promise<ChatRequest> =>
  seedRequest(store, body, now);

describe('worker', () => {
  it('201 → succeeded with the chat id, one POST of the canonical body', async () => {
    const { store, graph, deps, now } = setup();
    const request = await seed(store, groupBody, now());
    graph.createAnswers = [created('19:abc@thread.v2')];

    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps)).toBe('succeeded');

    const row = (await store.get(request.id))!.value;
    expect(row.state).toBe(State.succeeded);
    expect(row.chat).toEqual({ id: '19:abc@thread.v2', webUrl: 'https://teams.test/19:abc@thread.v2' });
    expect(row.attempts).toBe(1);
    expect(graph.posts).toEqual([request.graphBody]);
  });

  it('a second delivery of the same message does not post again', async () => {
    const { store, graph, deps, now } = setup();
    const request = await seed(store, groupBody, now());
    await processRequestMessage({ id: request.id, attempt: 0 }, deps);
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps)).toBe('stale-message');
    expect(graph.posts).toHaveLength(1);
  });

  it('two concurrent deliveries: one calls Graph, the other loses the race or defers', async () => {
    const { store, graph, deps, now } = setup();
    const request = await seed(store, groupBody, now());
    const results = await Promise.all([
      processRequestMessage({ id: request.id, attempt: 0 }, deps),
      processRequestMessage({ id: request.id, attempt: 0 }, deps),
    ]);
    expect(graph.posts).toHaveLength(1);
    expect(results).toContain('succeeded');
  });

  it('a 503 after Graph made the chat: the next attempt adopts the chat instead of posting again', async () => {
    // Prepare: Graph creates the chat but answers 503.
    const { store, queue, graph, deps, now, advance } = setup();
    const request = await seed(store, groupBody, now());
    graph.createAnswers = [response(503, { error: { code: 'ServiceUnavailable', message: 'busy' } })];
    graph.chats = [
      {
        id: '19:made@thread.v2',
        chatType: 'group',
        topic: 'Welcome Ana',
        createdDateTime: now().toISOString(),
        members: [
          { userId: 'oid-ana@contoso.com', email: 'ana.silva@contoso.com' },
          { userId: 'OID-MGR@contoso.com', email: 'manager@contoso.com' },
          { userId: 'oid-buddy@contoso.com', email: 'buddy@contoso.com' },
        ],
      },
    ];
    // Act
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps)).toBe('retry');
    const retry = queue.sent.at(-1)!;
    const afterRetry = (await store.get(request.id))!.value;
    expect(afterRetry.state).toBe(State.queued);
    expect(afterRetry.outcomeUnknownSince).toBeDefined();
    advance(retry.delaySeconds * 1000 + 1);
    expect(await processRequestMessage(retry.message, deps)).toBe('adopted');
    // Assess
    const row = (await store.get(request.id))!.value;
    expect(row.state).toBe(State.succeeded);
    expect(row.chat?.id).toBe('19:made@thread.v2');
    expect(graph.posts).toHaveLength(1);
    expect(graph.lookups[0]?.user).toBe('ana@contoso.com');
  });

  it('identical chats: a lost answer adopts the chat no other request owns, the likeliest first', async () => {
    // Prepare: an earlier request made an identical chat (and owns it); this one's POST made one, answer lost.
    const { store, queue, graph, deps, now, advance } = setup();
    const request = await seed(store, groupBody, now());
    const members = [
      { userId: 'oid-ana@contoso.com', email: 'ana.silva@contoso.com' },
      { userId: 'oid-mgr@contoso.com' },
      { userId: 'oid-buddy@contoso.com', email: 'buddy@contoso.com' },
    ];
    const earlier = new Date(now().getTime() - 60_000).toISOString();
    await store.claimChat('19:twin@thread.v2', 'another-request');
    graph.createAnswers = [response(504, { error: { code: 'GatewayTimeout', message: 'slow' } })];
    graph.chats = [
      { id: '19:twin@thread.v2', chatType: 'group', topic: 'Welcome Ana', createdDateTime: earlier, members },
      { id: '19:older@thread.v2', chatType: 'group', topic: 'Welcome Ana', createdDateTime: earlier, members },
      {
        id: '19:ours@thread.v2',
        chatType: 'group',
        topic: 'Welcome Ana',
        createdDateTime: now().toISOString(),
        members,
      },
    ];
    // Act
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps)).toBe('retry');
    const retry = queue.sent.at(-1)!;
    advance(retry.delaySeconds * 1000 + 1);
    expect(await processRequestMessage(retry.message, deps)).toBe('adopted');
    // Assess: the chat made after the attempt began, now owned by this request; the twin's is untouched.
    expect((await store.get(request.id))!.value.chat?.id).toBe('19:ours@thread.v2');
    expect(store.chatOwners.get('19:ours@thread.v2')).toBe(request.id);
    expect(store.chatOwners.get('19:twin@thread.v2')).toBe('another-request');
    expect(graph.posts).toHaveLength(1);
  });

  it('a 201 for a group chat records the chat as the request’s own', async () => {
    const { store, graph, deps, now } = setup();
    const request = await seed(store, groupBody, now());
    graph.createAnswers = [created('19:own@thread.v2')];
    await processRequestMessage({ id: request.id, attempt: 0 }, deps);
    expect(store.chatOwners.get('19:own@thread.v2')).toBe(request.id);
  });

  it('a worker that died mid-call: redelivery after the lease looks first, then posts when nothing was made', async () => {
    const { store, graph, deps, now, advance } = setup();
    const request = await seed(store, groupBody, now());
    // The first worker moved the row to creating and died before Graph answered.
    const stored = (await store.get(request.id))!;
    await store.replace(stored, {
      ...stored.value,
      state: State.creating,
      attempts: 1,
      attemptStartedAt: now().toISOString(),
    });

    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps)).toBe('deferred');
    expect(graph.posts).toHaveLength(0);

    advance(ATTEMPT_LEASE_MS + 1000);
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps)).toBe('succeeded');
    expect(graph.lookups).toHaveLength(1);
    expect(graph.posts).toHaveLength(1);
  });

  it('oneOnOne chats are posted again without a lookup (Graph dedupes them)', async () => {
    const { store, graph, deps, now, queue, advance } = setup();
    const request = await seed(store, { chatType: 'oneOnOne', members: ['a@contoso.com', 'b@contoso.com'] }, now());
    graph.createAnswers = [
      { kind: 'network', code: 'ECONNRESET', message: 'reset', timedOut: false, clientRequestId: 'c' },
    ];
    await processRequestMessage({ id: request.id, attempt: 0 }, deps);
    advance(queue.sent.at(-1)!.delaySeconds * 1000 + 1);
    expect(await processRequestMessage(queue.sent.at(-1)!.message, deps)).toBe('succeeded');
    expect(graph.lookups).toHaveLength(0);
    expect(graph.posts).toHaveLength(2);
  });

  it('429 re-enqueues after Retry-After and pauses the gate', async () => {
    const { store, queue, graph, deps, now } = setup();
    const request = await seed(store, groupBody, now());
    graph.createAnswers = [response(429, { error: { code: 'TooManyRequests', message: 'x' } }, { retryAfter: '3' })];
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps)).toBe('retry');
    expect(queue.sent.at(-1)).toEqual({ message: { id: request.id, attempt: 1 }, delaySeconds: 3 });
    expect((await deps.gate.acquire(0)).ok).toBe(false);
    const row = (await store.get(request.id))!.value;
    expect(row.outcomeUnknownSince).toBeUndefined();
    expect(row.transientFailures ?? 0).toBe(0);
  });

  it('a retry keeps an unsent marker until its message is sent (the timer sends it if we die)', async () => {
    const { store, queue, graph, deps, now } = setup();
    const request = await seed(store, groupBody, now());
    graph.createAnswers = [response(500, { error: { code: 'InternalServerError', message: 'x' } })];
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps)).toBe('retry');
    expect(store.unsent.has(request.id)).toBe(false);

    const again = await seed(store, groupBody, now());
    graph.createAnswers = [response(500, { error: { code: 'InternalServerError', message: 'x' } })];
    const failing = { send: async () => Promise.reject(new Error('queue down')) };
    await expect(processRequestMessage({ id: again.id, attempt: 0 }, { ...deps, queue: failing })).rejects.toThrow();
    expect(store.unsent.has(again.id)).toBe(true);
    expect((await store.get(again.id))!.value.state).toBe(State.queued);
    expect(queue.sent.map((s) => s.message.id)).not.toContain(again.id);
  });

  it('a throttled lookup (a read) retries after Retry-After without posting, and leaves the create gate open', async () => {
    const { store, queue, graph, deps, now, advance } = setup();
    const request = await seed(store, groupBody, now());
    graph.createAnswers = [
      { kind: 'network', code: 'ConnectionReset', message: 'reset', timedOut: false, clientRequestId: 'c' },
    ];
    await processRequestMessage({ id: request.id, attempt: 0 }, deps);
    const throttled: Awaited<ReturnType<GraphChats['listUserChats']>> = {
      ok: false,
      answer: response(429, { error: { code: 'TooManyRequests', message: 'x' } }, { retryAfter: '4' }),
    };
    (graph as GraphChats).listUserChats = async () => throttled;
    advance(queue.sent.at(-1)!.delaySeconds * 1000 + 1);
    expect(await processRequestMessage(queue.sent.at(-1)!.message, deps)).toBe('retry');
    expect(graph.posts).toHaveLength(1);
    // Reads and creates have separate budgets in Graph's Teams limits: a read 429 does not pause creates.
    expect((await deps.gate.acquire(0)).ok).toBe(true);
    expect(queue.sent.at(-1)!.delaySeconds).toBe(4);
    expect((await store.get(request.id))!.value.outcomeUnknownSince).toBeDefined();
  });

  it('the lookup lists a member of this tenant, not a federated one', async () => {
    const { store, graph, deps, now, queue, advance } = setup();
    const request = await seed(
      store,
      {
        chatType: 'group',
        topic: 'Fed',
        members: [
          { user: '8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca', tenantId: '4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1' },
          'local@contoso.com',
          'other@contoso.com',
        ],
      },
      now(),
    );
    graph.createAnswers = [{ kind: 'network', code: 'Timeout', message: 't', timedOut: true, clientRequestId: 'c' }];
    await processRequestMessage({ id: request.id, attempt: 0 }, deps);
    advance(queue.sent.at(-1)!.delaySeconds * 1000 + 1);
    await processRequestMessage(queue.sent.at(-1)!.message, deps);
    expect(graph.lookups[0]?.user).toBe('local@contoso.com');
  });

  it('a member named by UPN with our own tenantId is read by UPN like the others, and the chat adopted', async () => {
    const { store, graph, deps, now, queue, advance } = setup();
    const home = 'a1b2c3d4-0000-4000-8000-000000000001';
    const request = await seed(
      store,
      { chatType: 'group', topic: 'Home', members: [{ user: 'ana@contoso.com', tenantId: home }, 'mgr@contoso.com'] },
      now(),
    );
    graph.createAnswers = [{ kind: 'network', code: 'Timeout', message: 't', timedOut: true, clientRequestId: 'c' }];
    graph.chats = [
      {
        id: '19:home@thread.v2',
        chatType: 'group',
        topic: 'Home',
        tenantId: home,
        createdDateTime: now().toISOString(),
        members: [
          { userId: 'oid-ana@contoso.com', email: 'ana.silva@contoso.com', tenantId: home },
          { userId: 'oid-mgr@contoso.com', tenantId: home },
        ],
      },
    ];
    await processRequestMessage({ id: request.id, attempt: 0 }, deps);
    advance(queue.sent.at(-1)!.delaySeconds * 1000 + 1);
    expect(await processRequestMessage(queue.sent.at(-1)!.message, deps)).toBe('adopted');
    expect(graph.userLookups.sort()).toEqual(['ana@contoso.com', 'mgr@contoso.com']);
    expect(graph.posts).toHaveLength(1);
  });

  it('no lookalike chat listed: no member is read by UPN', async () => {
    const { store, graph, deps, now, queue, advance } = setup();
    const request = await seed(store, groupBody, now());
    graph.createAnswers = [{ kind: 'network', code: 'Timeout', message: 't', timedOut: true, clientRequestId: 'c' }];
    graph.chats = [{ id: '19:other@thread.v2', chatType: 'group', topic: 'Other topic', members: [{}, {}, {}] }];
    await processRequestMessage({ id: request.id, attempt: 0 }, deps);
    advance(queue.sent.at(-1)!.delaySeconds * 1000 + 1);
    expect(await processRequestMessage(queue.sent.at(-1)!.message, deps)).toBe('succeeded');
    expect(graph.userLookups).toEqual([]);
    expect(graph.posts).toHaveLength(2);
  });

  it('202 → pending with an absolute operation URL', async () => {
    const { store, graph, deps, now } = setup();
    const request = await seed(store, groupBody, now());
    graph.createAnswers = [response(202, undefined, { location: "/chats('19:x@thread.v2')/operations('op1')" })];
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps)).toBe('pending');
    const row = (await store.get(request.id))!.value;
    expect(row.state).toBe(State.pending);
    expect(row.operation).toMatchObject({
      location: "https://graph.test/beta/chats('19:x@thread.v2')/operations('op1')",
      status: 'notStarted',
      checks: 0,
    });
  });

  it('a message that arrives before notBefore hops back onto the queue', async () => {
    const { store, queue, graph, deps, now } = setup();
    const notBefore = new Date(now().getTime() + 10 * 24 * 3600_000).toISOString();
    const request = await seed(store, { ...groupBody, notBefore }, now());
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps)).toBe('deferred');
    expect(graph.posts).toHaveLength(0);
    expect(queue.sent[0]!.delaySeconds).toBeGreaterThan(9 * 24 * 3600);
  });

  it('drops messages that are not ours or name no request', async () => {
    const { deps, queue } = setup();
    expect(await processRequestMessage('garbage', deps)).toBe('invalid-message');
    expect(await processRequestMessage({ id: 'x', attempt: 0 }, deps)).toBe('invalid-message');
    expect(await processRequestMessage({ id: newRequestId(), attempt: 0, sentAt: 'yesterday' }, deps)).toBe(
      'invalid-message',
    );
    expect(await processRequestMessage({ id: newRequestId(), attempt: 0 }, deps)).toBe('unknown-request');
    expect(queue.sent).toEqual([]);
  });
});

describe('worker: a message that comes before its row (intake sends it first)', () => {
  const ago = (now: Date, ms: number) => new Date(now.getTime() - ms).toISOString();

  it('young (sentAt under 10 minutes): the same message is sent again, 5 s later', async () => {
    // Prepare
    const { queue, graph, deps, now } = setup();
    const id = newRequestId(now());
    const sentAt = ago(now(), MISSING_ROW_PATIENCE_MS - 1000);

    // Act
    const result = await processRequestMessage({ id, attempt: 0, sentAt }, deps);

    // Assess
    expect(result).toBe('deferred');
    expect(MISSING_ROW_RETRY_SECONDS).toBe(5);
    expect(queue.sent).toEqual([{ message: { id, attempt: 0, sentAt }, delaySeconds: 5 }]);
    expect(graph.posts).toEqual([]);
  });

  it('old (sentAt 10 minutes ago or more), without sentAt (older messages), or sentAt far ahead: dropped', async () => {
    // Prepare
    const { queue, deps, now } = setup();
    const logged: string[] = [];
    deps.log = (level, event) => logged.push(`${level} ${event}`);
    const id = newRequestId(now());

    // Act
    const old = await processRequestMessage({ id, attempt: 0, sentAt: ago(now(), MISSING_ROW_PATIENCE_MS) }, deps);
    const none = await processRequestMessage({ id, attempt: 0 }, deps);
    const ahead = await processRequestMessage({ id, attempt: 0, sentAt: ago(now(), -3 * 60_000) }, deps);

    // Assess
    expect([old, none, ahead]).toEqual(['unknown-request', 'unknown-request', 'unknown-request']);
    expect(queue.sent).toEqual([]);
    expect(logged).toEqual(Array(3).fill('warn message.unknownRequest'));
  });

  it('a sentAt a little ahead (another instance clock) counts as young', async () => {
    const { queue, deps, now } = setup();
    const sentAt = ago(now(), -60_000);
    expect(await processRequestMessage({ id: newRequestId(now()), attempt: 0, sentAt }, deps)).toBe('deferred');
    expect(queue.sent).toHaveLength(1);
  });

  it('once the row is written, the message sent again makes the chat', async () => {
    // Prepare: the message is there, the row not yet
    const { store, queue, graph, deps, advance, now } = setup();
    const request = testRequest(groupBody, now());
    const first = { id: request.id, attempt: 0, sentAt: now().toISOString() };
    graph.createAnswers = [created('19:early@thread.v2')];

    // Act
    const early = await processRequestMessage(first, deps);
    await store.create(request);
    advance(queue.sent[0]!.delaySeconds * 1000);
    const later = await processRequestMessage(queue.sent[0]!.message, deps);

    // Assess
    expect(early).toBe('deferred');
    expect(later).toBe('succeeded');
    expect(graph.posts).toEqual([request.graphBody]);
    expect((await store.get(request.id))!.value.chat?.id).toBe('19:early@thread.v2');
  });

  it('a message deferred for a reason of its row (notBefore) keeps its sentAt', async () => {
    const { store, queue, deps, now } = setup();
    const notBefore = new Date(now().getTime() + 3600_000).toISOString();
    const request = await seed(store, { ...groupBody, notBefore }, now());
    const sentAt = now().toISOString();
    expect(await processRequestMessage({ id: request.id, attempt: 0, sentAt }, deps)).toBe('deferred');
    expect(queue.sent[0]!.message).toEqual({ id: request.id, attempt: 0, sentAt });
  });
});

describe('worker counters', () => {
  afterEach(() => setTelemetryCounters(noopCounters));

  it('counts a created chat, a failure by code and a 429', async () => {
    // Prepare: counters that record what they are told.
    const seen: string[] = [];
    setTelemetryCounters({
      chatCreated: () => seen.push('created'),
      chatFailed: (code) => seen.push(`failed:${code}`),
      throttled: () => seen.push('throttled'),
      accepted: () => seen.push('accepted'),
    });
    const { store, graph, deps, now } = setup();
    const ok = await seed(store, groupBody, now());
    const bad = await seed(store, { ...groupBody, topic: 'Other' }, now());
    const slow = await seed(store, { ...groupBody, topic: 'Slow' }, now());
    graph.createAnswers = [
      created('19:ok@thread.v2'),
      response(400, { error: { code: 'BadRequest', message: 'no' } }),
      response(429, undefined, { retryAfter: '0.01' }),
    ];
    // Act
    await processRequestMessage({ id: ok.id, attempt: 0 }, deps);
    await processRequestMessage({ id: bad.id, attempt: 0 }, deps);
    await processRequestMessage({ id: slow.id, attempt: 0 }, deps);
    // Assess
    expect(seen).toEqual(['created', 'failed:BadRequest', 'throttled']);
  });
});

describe('giving up after unknown outcomes', () => {
  /** A request on its last transient attempt, whose earlier attempts all timed out. */
  async function onLastAttempt() {
    const h = setup();
    const request = await seed(h.store, groupBody, h.now());
    const stored = (await h.store.get(request.id))!;
    await h.store.replace(stored, { ...stored.value, transientFailures: MAX_TRANSIENT_FAILURES - 1 });
    h.graph.createAnswers = [
      { kind: 'network', code: 'Timeout', message: 'aborted', timedOut: true, clientRequestId: 'c' },
    ];
    return { ...h, request };
  }

  const madeChat = {
    id: '19:made@thread.v2',
    chatType: 'group' as const,
    topic: 'Welcome Ana',
    members: [
      { userId: 'oid-ana@contoso.com', email: 'ana.silva@contoso.com' },
      { userId: 'oid-mgr@contoso.com' },
      { userId: 'oid-buddy@contoso.com', email: 'buddy@contoso.com' },
    ],
  };

  it('the last POST’s answer lost: one more attempt only looks, and adopts the chat Graph made', async () => {
    // Prepare
    const { store, graph, queue, deps, advance, request } = await onLastAttempt();

    // Act: the last attempt times out; the final look comes FINAL_LOOK_DELAY_MS later and finds the chat.
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps)).toBe('retry');
    const look = queue.sent.at(-1)!;
    advance(FINAL_LOOK_DELAY_MS);
    graph.chats = [madeChat];
    const result = await processRequestMessage(look.message, deps);

    // Assess
    expect(look.delaySeconds).toBe(FINAL_LOOK_DELAY_MS / 1000);
    expect(result).toBe('adopted');
    expect((await store.get(request.id))!.value).toMatchObject({ state: State.succeeded, chat: { id: madeChat.id } });
    expect(graph.posts).toHaveLength(1);
  });

  it('the final look finds nothing: failed without posting again, the mark kept so an ops retry looks first', async () => {
    // Prepare
    const { store, graph, queue, deps, advance, now, request } = await onLastAttempt();
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps)).toBe('retry');
    advance(FINAL_LOOK_DELAY_MS);

    // Act
    expect(await processRequestMessage(queue.sent.at(-1)!.message, deps)).toBe('failed');

    // Assess: failed with the give-up error, one POST in all, still marked unknown.
    const failed = (await store.get(request.id))!;
    expect(failed.value.state).toBe(State.failed);
    expect(failed.value.error).toMatchObject({
      message: expect.stringMatching(new RegExp(`gave up after ${MAX_TRANSIENT_FAILURES} attempts`)),
      retryable: false,
    });
    expect(failed.value.outcomeUnknownSince).toBeDefined();
    expect(graph.posts).toHaveLength(1);
    // An ops retry adopts the chat Graph did make once it shows.
    graph.chats = [madeChat];
    const queued = await transition(store, failed, State.queued, { transientFailures: 0 }, now());
    expect(await processRequestMessage({ id: request.id, attempt: queued.value.attempts }, deps)).toBe('adopted');
    expect(graph.posts).toHaveLength(1);
  });
});
