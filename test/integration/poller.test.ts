/**
 * The timer tick against Azurite and the simulator's operations: each operation outcome, the
 * deadline, throttled polls, overlapping ticks, housekeeping, and that a tick reads only due rows.
 * Time is injected (`now`); nothing waits for Microsoft's 30 s.
 */
import { loadConfig } from '../../shared/platform/config';
import { OPERATION_FIRST_CHECK_MS, OPERATION_MIN_CHECK_MS } from '../../shared/core/graph-retry-policy';
import { newRequestId } from '../../shared/core/ids';
import { newChatRequest } from '../../shared/use-cases/intake';
import { jsonLogger } from '../../shared/platform/log';
import { ChatRequest, State } from '../../shared/core/model';
import { runPollerTick, PollerDeps, TickReport } from '../../shared/use-cases/poller';
import { RequestMessage, RequestQueue } from '../../shared/core/queue/port';
import { transition } from '../../shared/core/request-store';
import { payloadHash } from '../../shared/core/request/hash';
import { parseProvisioningRequest } from '../../shared/core/request/parse';
import { buildServices, Services } from '../../shared/platform/composition-root';
import { ATTEMPT_LEASE_MS, processRequestMessage, WorkerDeps } from '../../shared/use-cases/worker';
import { startStack, Stack } from '../support/stack';

const APP = '05F59CEC-A742-4A50-A62E-202A57E478A4';
const DEADLINE_MINUTES = 5;

let stack: Stack;
let serial = 0;

beforeAll(async () => {
  stack = await startStack({ host: false, simulator: { tenantRps: 1000 } });
});
afterAll(async () => {
  await stack?.stop();
});
afterEach(() => {
  stack.sim.control.clearFaults();
  stack.sim.control.configure({ operationTimings: { inProgressAfterPolls: 1, succeededAfterPolls: 2 } });
});

interface Harness {
  svc: Services;
  lines: string[];
  clock: { ms: number };
  finals: ChatRequest[];
  poller(overrides?: Partial<PollerDeps>): PollerDeps;
  tick(overrides?: Partial<PollerDeps>): Promise<TickReport>;
  seed(body: unknown, state?: State): Promise<ChatRequest>;
  /** A request the worker took to `pending` (Graph answered 202); returns it and its simulator operation id. */
  pending(topic: string): Promise<{ request: ChatRequest; opId: string }>;
  row(id: string): Promise<ChatRequest>;
  /** Ticks (jumping to each next check) until the request is final; bounded. */
  settle(id: string): Promise<ChatRequest>;
  messages(): Promise<RequestMessage[]>;
}

async function harness(): Promise<Harness> {
  serial += 1;
  const svc = buildServices(
    loadConfig({ ...stack.env, CHAT_REQUESTS_QUEUE: `poller-${serial}`, CHAT_REQUESTS_TABLE: `Poller${serial}` }),
  );
  await svc.ready();
  const lines: string[] = [];
  const log = jsonLogger((_level, line) => lines.push(line));
  const clock = { ms: Date.now() };
  const now = () => new Date(clock.ms);
  const finals: ChatRequest[] = [];
  const worker: WorkerDeps = {
    store: svc.store,
    queue: svc.queue,
    graph: svc.graph,
    gate: svc.gate,
    graceMinutes: 240,
    log,
    now,
    random: () => 0.5,
  };
  const h: Harness = {
    svc,
    lines,
    clock,
    finals,
    poller: (overrides = {}) => ({
      store: svc.store,
      queue: svc.queue,
      graph: svc.graph,
      gate: svc.gate,
      deadlineMinutes: DEADLINE_MINUTES,
      log,
      now,
      random: () => 0.5,
      onFinal: async (request) => {
        finals.push(request);
      },
      ...overrides,
    }),
    tick: (overrides) => runPollerTick(h.poller(overrides)),
    async seed(body) {
      const parsed = parseProvisioningRequest(body, now());
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
      const request = newChatRequest(parsed.value, payloadHash(parsed.value), newRequestId(now()), now());
      await svc.store.create(request);
      return request;
    },
    async pending(topic) {
      const request = await h.seed({
        chatType: 'group',
        topic,
        members: ['user1@contoso.com', 'user2@contoso.com', 'user3@contoso.com'],
        apps: [{ teamsAppId: APP }],
      });
      expect(await processRequestMessage({ id: request.id, attempt: 0 }, worker)).toBe('pending');
      const row = await h.row(request.id);
      const opId = /operations\('([^']+)'\)/.exec(row.operation!.location)![1]!;
      return { request: row, opId };
    },
    async row(id) {
      return (await svc.store.get(id))!.value;
    },
    async settle(id) {
      let current = await h.row(id);
      for (let i = 0; i < 20 && current.state === State.pending; i += 1) {
        clock.ms = Math.max(clock.ms, Date.parse(current.operation!.nextCheckAt!));
        await h.tick();
        current = await h.row(id);
      }
      return current;
    },
    async messages() {
      const peek = await svc.queueClient.peekMessages({ numberOfMessages: 32 });
      return peek.peekedMessageItems.map(
        (m) => JSON.parse(Buffer.from(m.messageText, 'base64').toString('utf8')) as RequestMessage,
      );
    },
  };
  return h;
}

const gets = (since: number, pattern: RegExp) =>
  stack.sim.control.requests(since).filter((r) => r.method === 'GET' && pattern.test(r.path));
const lastSeq = () => stack.sim.control.requests().at(-1)?.seq ?? 0;

describe('poller: operation outcomes', () => {
  it('notStarted → inProgress → succeeded: succeeded with the target chat and its webUrl from GET /chats/{id}', async () => {
    const h = await harness();
    const { request, opId } = await h.pending('Op succeeds');
    const since = lastSeq();

    // Act: the first check comes Microsoft's 30 s after the 202, and so does each next one.
    expect(Date.parse(request.operation!.nextCheckAt!) - Date.parse(request.operation!.startedAt!)).toBe(
      OPERATION_MIN_CHECK_MS,
    );
    h.clock.ms = Date.parse(request.operation!.nextCheckAt!);
    const first = await h.tick();
    const firstCheckAt = h.clock.ms;
    const afterFirst = await h.row(request.id);
    const done = await h.settle(request.id);

    // Assess
    expect(first).toMatchObject({ indexRowsRead: 1, checked: 1, waiting: 1 });
    expect(afterFirst.operation).toMatchObject({ status: 'notStarted', checks: 1 });
    expect(Date.parse(afterFirst.operation!.nextCheckAt!) - firstCheckAt).toBe(OPERATION_MIN_CHECK_MS);
    const op = stack.sim.control.operations().find((o) => o.id === opId)!;
    const chat = stack.sim.control.chats().chats.find((c) => c.id === op.chatId)!;
    expect(done.state).toBe(State.succeeded);
    expect(done.operation).toMatchObject({ status: 'succeeded', checks: 3 });
    expect(done.chat).toEqual({
      id: op.chatId,
      webUrl: expect.stringMatching(/^https:\/\/teams\.microsoft\.com\/l\/chat\//),
      createdDateTime: chat.createdDateTime,
      tenantId: stack.sim.tenantId,
    });
    expect(gets(since, /^\/v1\.0\/chats\/[^/]+$/)).toHaveLength(1);
    expect(h.finals.map((f) => f.id)).toEqual([request.id]);
    // Later ticks read nothing: the request left the pending index.
    h.clock.ms += 3600_000;
    expect((await h.tick()).indexRowsRead).toBe(0);
  });

  it('failed → failed with the operation error', async () => {
    const h = await harness();
    const { request, opId } = await h.pending('Op fails');
    stack.sim.control.setOperationFate(opId, {
      fate: 'failed',
      error: { code: 'ChatCreationFailed', message: 'The app could not be installed' },
    });
    const done = await h.settle(request.id);
    expect(done.state).toBe(State.failed);
    expect(done.operation?.status).toBe('failed');
    expect(done.error).toMatchObject({ code: 'ChatCreationFailed', retryable: false });
    expect(done.error!.message).toContain('The app could not be installed');
    expect(done.error!.graphRequestId).toBeTruthy();
  });

  it.each([
    ['invalid', /status "invalid"/],
    ['unknownFutureValue', /status "deferred"/],
  ])('%s → failed with a reason', async (fate, reason) => {
    const h = await harness();
    const { request, opId } = await h.pending(`Op ${fate}`);
    stack.sim.control.setOperationFate(opId, fate);
    const done = await h.settle(request.id);
    expect(done.state).toBe(State.failed);
    expect(done.error).toMatchObject({ code: 'OperationInvalid', retryable: false });
    expect(done.error!.message).toMatch(reason);
    expect(done.error!.message).toMatch(/cannot act on/);
  });

  it('the operation vanished (404) but the chat exists → succeeded, adopting the chat from the Location', async () => {
    const h = await harness();
    const { request, opId } = await h.pending('Op vanishes');
    stack.sim.control.setOperationFate(opId, 'vanish');
    const done = await h.settle(request.id);
    const op = stack.sim.control.operations().find((o) => o.id === opId)!;
    expect(done.state).toBe(State.succeeded);
    expect(done.operation?.status).toBe('vanished');
    expect(done.chat).toMatchObject({ id: op.chatId, webUrl: expect.any(String) });
  });

  it('the operation vanished and there is no chat → failed', async () => {
    const h = await harness();
    const { request } = await h.pending('Op and chat gone');
    // Point the row at an operation (and chat) Graph never had.
    const stored = (await h.svc.store.get(request.id))!;
    stored.value.operation!.location = `${stack.sim.graphBaseUrl}/beta/chats('19:00000000000000000000000000000000@thread.v2')/operations('gone')`;
    await h.svc.store.replace(stored, stored.value);
    const done = await h.settle(request.id);
    expect(done.state).toBe(State.failed);
    expect(done.error).toMatchObject({ code: 'OperationNotFound', httpStatus: 404, retryable: false });
    expect(done.error!.message).toMatch(/chat does not exist/);
  });

  it('stalled past OPERATION_DEADLINE_MINUTES → failed "did not finish"', async () => {
    const h = await harness();
    const { request, opId } = await h.pending('Op stalls');
    stack.sim.control.setOperationFate(opId, 'stall');
    // Within the deadline it keeps waiting ...
    let current = await h.row(request.id);
    for (let i = 0; i < 5; i += 1) {
      h.clock.ms = Date.parse(current.operation!.nextCheckAt!);
      await h.tick();
      current = await h.row(request.id);
    }
    expect(current.state).toBe(State.pending);
    expect(current.operation?.status).toBe('inProgress');
    // ... and past it, fails with the reason.
    h.clock.ms = Date.parse(current.operation!.startedAt!) + DEADLINE_MINUTES * 60_000 + 1;
    await h.tick();
    const done = await h.row(request.id);
    expect(done.state).toBe(State.failed);
    expect(done.error).toMatchObject({ code: 'OperationTimeout', retryable: false });
    expect(done.error!.message).toBe(
      `The chat operation did not finish within ${DEADLINE_MINUTES} minutes (OPERATION_DEADLINE_MINUTES)`,
    );
  });

  it('a 503 reading the chat after the operation succeeded waits for a later tick instead of losing the webUrl', async () => {
    const h = await harness();
    stack.sim.control.configure({ operationTimings: { inProgressAfterPolls: 0, succeededAfterPolls: 0 } });
    const { request } = await h.pending('Chat read fails once');
    stack.sim.control.addFault({
      match: { method: 'GET', pathRegex: '^/v1\\.0/chats/[^/]+$' },
      fault: { type: 'status', status: 503, retryAfter: null },
    });
    h.clock.ms = Date.parse(request.operation!.nextCheckAt!);
    await h.tick();
    expect((await h.row(request.id)).state).toBe(State.pending);
    const done = await h.settle(request.id);
    expect(done.state).toBe(State.succeeded);
    expect(done.chat?.webUrl).toMatch(/^https:\/\//);
  });
});

describe('poller: throttled and failing polls', () => {
  it('429 on the poll → stays pending, the tick stops reading, and creates are neither cut nor paused', async () => {
    const h = await harness();
    const first = await h.pending('Poll 429');
    const second = await h.pending('Poll 429 too');
    const rateBefore = h.svc.gate.fleetRate;
    stack.sim.control.addFault({
      match: { method: 'GET', pathPrefix: '/beta/chats' },
      fault: { type: 'status', status: 429, retryAfter: 0.6 },
    });
    const since = lastSeq();
    h.clock.ms = Date.parse(second.request.operation!.nextCheckAt!);
    const report = await h.tick({ concurrency: 1 });

    // One check was throttled; the other was left due for a later tick rather than spend more reads.
    expect(gets(since, /operations/)).toHaveLength(1);
    expect(report).toMatchObject({ indexRowsRead: 2, checked: 1, waiting: 1 });
    const rows = [await h.row(first.request.id), await h.row(second.request.id)];
    const throttled = rows.find((r) => r.error?.code === 'TooManyRequests')!;
    expect(throttled.state).toBe(State.pending);
    expect(throttled.error).toMatchObject({ httpStatus: 429, retryable: true });
    // Microsoft's 30 s between checks holds even though Retry-After was shorter.
    expect(Date.parse(throttled.operation!.nextCheckAt!)).toBe(h.clock.ms + OPERATION_MIN_CHECK_MS);
    expect(rows.filter((r) => r.operation!.checks === 0)).toHaveLength(1);
    // Reads have their own budget in Graph: the fleet's create rate is not cut and no worker is paused.
    expect(h.svc.gate.pausedUntil).toBeLessThanOrEqual(Date.now());
    expect(h.svc.gate.fleetRate).toBe(rateBefore);

    const done = [await h.settle(first.request.id), await h.settle(second.request.id)];
    expect(done.map((d) => d.state)).toEqual([State.succeeded, State.succeeded]);
    expect(done.map((d) => d.error)).toEqual([undefined, undefined]);
  });

  it('5xx on the poll → stays pending and is retried on a later tick (Retry-After honoured)', async () => {
    const h = await harness();
    const { request } = await h.pending('Poll 503');
    stack.sim.control.addFault({
      match: { method: 'GET', pathPrefix: '/beta/chats' },
      fault: { type: 'status', status: 503, retryAfter: 7 },
    });
    h.clock.ms = Date.parse(request.operation!.nextCheckAt!);
    await h.tick();
    const row = await h.row(request.id);
    expect(row.state).toBe(State.pending);
    expect(Date.parse(row.operation!.nextCheckAt!)).toBe(h.clock.ms + Math.max(7000, OPERATION_MIN_CHECK_MS));
    expect(row.error).toMatchObject({ httpStatus: 503, retryable: true });
    expect((await h.settle(request.id)).state).toBe(State.succeeded);
  });

  it('OPERATION_CHECK_MIN_SECONDS sets the least time between checks, and the interval grows after ten', async () => {
    const h = await harness();
    const { request } = await h.pending('Slow checks');
    stack.sim.control.setOperationFate(
      stack.sim.control
        .operations()
        .find((o) => o.chatId === /chats\('([^']+)'\)/.exec(request.operation!.location)![1])!.id,
      'stall',
    );
    const gaps: number[] = [];
    for (let i = 0; i < 12; i += 1) {
      h.clock.ms = Date.parse((await h.row(request.id)).operation!.nextCheckAt!);
      await h.tick({ checkMinMs: 45_000, deadlineMinutes: 60 });
      gaps.push(Date.parse((await h.row(request.id)).operation!.nextCheckAt!) - h.clock.ms);
    }
    expect(gaps.slice(0, 10)).toEqual(Array.from({ length: 10 }, () => 45_000));
    expect(gaps.slice(10)).toEqual([90_000, 90_000]);
  });

  it("a worker's 429 pauses the poller too: no poll reaches Graph while the fleet is paused", async () => {
    const h = await harness();
    const { request } = await h.pending('Shared pause');
    await h.svc.gate.recordThrottle(1500);
    const since = lastSeq();
    h.clock.ms = Date.parse(request.operation!.nextCheckAt!);
    await h.tick();
    expect(gets(since, /operations/)).toHaveLength(0);
    expect((await h.row(request.id)).operation?.checks).toBe(0);
  });
});

describe('poller: cost and concurrency', () => {
  it('reads only due rows: indexRowsRead equals the due pending count, with many finished requests present', async () => {
    const h = await harness();
    // Prepare: 150 finished requests, 3 pending due now, 2 pending due later.
    const body = { chatType: 'group', topic: 'Done', members: ['user1@contoso.com', 'user2@contoso.com'] };
    for (let i = 0; i < 150; i += 1) {
      const request = await h.seed(body);
      const stored = (await h.svc.store.get(request.id))!;
      const creating = await transition(h.svc.store, stored, State.creating, { attempts: 1 }, new Date());
      await transition(
        h.svc.store,
        creating,
        i % 3 === 0 ? State.failed : State.succeeded,
        i % 3 === 0
          ? { error: { code: 'BadRequest', message: 'x', retryable: false } }
          : { chat: { id: `19:${i}@thread.v2` } },
        new Date(),
      );
    }
    const due = [await h.pending('Due 1'), await h.pending('Due 2'), await h.pending('Due 3')];
    const start = h.clock.ms;
    h.clock.ms = start + 60_000;
    const later = [await h.pending('Later 1'), await h.pending('Later 2')];
    h.clock.ms = start + OPERATION_FIRST_CHECK_MS;

    // Act
    const report = await h.tick();

    // Assess
    expect(report.indexRowsRead).toBe(due.length);
    expect(report.checked).toBe(due.length);
    for (const { request } of due) expect((await h.row(request.id)).operation?.checks).toBe(1);
    for (const { request } of later) expect((await h.row(request.id)).operation?.checks).toBe(0);
  });

  it('two ticks at once update each request once', async () => {
    const h = await harness();
    stack.sim.control.configure({ operationTimings: { inProgressAfterPolls: 0, succeededAfterPolls: 0 } });
    const requests = [];
    for (let i = 0; i < 6; i += 1) requests.push((await h.pending(`Overlap ${i}`)).request);
    h.clock.ms = Math.max(...requests.map((r) => Date.parse(r.operation!.nextCheckAt!)));

    // Act: the host can overlap two runs after a restart.
    const [a, b] = await Promise.all([h.tick(), h.tick({ concurrency: 3 })]);

    // Assess: every request succeeded once, each final state reported once.
    expect(a.succeeded + b.succeeded).toBe(requests.length);
    for (const request of requests) {
      const row = await h.row(request.id);
      expect(row.state).toBe(State.succeeded);
      expect(row.operation?.checks).toBe(1);
    }
    expect(h.finals.map((f) => f.id).sort()).toEqual(requests.map((r) => r.id).sort());
    expect(h.lines.filter((l) => l.includes('"event":"request.succeeded"'))).toHaveLength(requests.length);
  });
});

describe('poller: housekeeping', () => {
  it('a queued request whose message was never sent (unsent marker) gets its message', async () => {
    const h = await harness();
    const request = await h.seed({
      chatType: 'group',
      topic: 'Unsent',
      members: ['user1@contoso.com', 'user2@contoso.com'],
    });
    await h.svc.store.markUnsent([request.id], new Date(h.clock.ms));
    expect(await h.messages()).toEqual([]);

    // Younger than a minute: intake may still be sending it.
    expect((await h.tick()).resent).toBe(0);
    h.clock.ms += 61_000;
    const report = await h.tick();

    expect(report.resent).toBe(1);
    expect(await h.messages()).toEqual([{ id: request.id, attempt: 0 }]);
    expect(await h.svc.store.listUnsent(new Date(h.clock.ms + 3600_000), 10)).toEqual([]);
    expect((await h.tick()).resent).toBe(0);
  });

  it('a worker retry whose message could not be sent is sent by the timer', async () => {
    const h = await harness();
    const request = await h.seed({
      chatType: 'group',
      topic: 'Lost retry',
      members: ['user1@contoso.com', 'user2@contoso.com'],
    });
    stack.sim.control.addFault({
      match: { method: 'POST', pathPrefix: '/v1.0/chats' },
      fault: { type: 'status', status: 500 },
    });
    const broken: RequestQueue = {
      send: async () => {
        throw new Error('queue unavailable');
      },
    };
    await expect(
      processRequestMessage(
        { id: request.id, attempt: 0 },
        {
          store: h.svc.store,
          queue: broken,
          graph: h.svc.graph,
          gate: h.svc.gate,
          graceMinutes: 240,
          log: () => undefined,
          now: () => new Date(h.clock.ms),
          random: () => 0.5,
        },
      ),
    ).rejects.toThrow('queue unavailable');
    // The host's redelivery of the old message is stale now; the marker is what saves the request.
    const row = await h.row(request.id);
    expect(row.state).toBe(State.queued);
    h.clock.ms += 61_000;
    expect((await h.tick()).resent).toBe(1);
    expect(await h.messages()).toEqual([{ id: request.id, attempt: 1 }]);
  });

  it('a creating request whose worker died is handed back to the queue, and the worker finishes it', async () => {
    const h = await harness();
    const request = await h.seed({
      chatType: 'group',
      topic: 'Dead worker',
      members: ['user1@contoso.com', 'user2@contoso.com'],
    });
    const stored = (await h.svc.store.get(request.id))!;
    await transition(
      h.svc.store,
      stored,
      State.creating,
      { attempts: 1, attemptStartedAt: new Date(h.clock.ms).toISOString() },
      new Date(h.clock.ms),
    );
    // Within the lease (and a margin) nothing happens.
    expect((await h.tick()).recovered).toBe(0);
    h.clock.ms += ATTEMPT_LEASE_MS + 6 * 60_000;
    const report = await h.tick();
    expect(report.recovered).toBe(1);
    const [message] = await h.messages();
    expect(message).toEqual({ id: request.id, attempt: 1 });

    const result = await processRequestMessage(message, {
      store: h.svc.store,
      queue: h.svc.queue,
      graph: h.svc.graph,
      gate: h.svc.gate,
      graceMinutes: 240,
      log: () => undefined,
      now: () => new Date(h.clock.ms),
    });
    expect(result).toBe('succeeded');
    expect((await h.row(request.id)).attempts).toBe(2);
    expect(stack.sim.control.chats().chats.filter((c) => c.topic === 'Dead worker')).toHaveLength(1);
  });
});
