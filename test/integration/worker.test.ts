/**
 * The worker's answer table against the real adapters: Azurite (table + queue) and the Graph
 * simulator over TLS with its fault scripts. Time is injected (`now`) so grace windows, backoff and
 * transient limits are walked through without waiting; the queue's own visibility delays are real.
 */
import { loadConfig } from '../../shared/platform/config';
import { MAX_TRANSIENT_FAILURES } from '../../shared/core/graph-retry-policy';
import { newRequestId } from '../../shared/core/ids';
import { newChatRequest, submitRequest } from '../../shared/use-cases/intake';
import { jsonLogger, Logger } from '../../shared/platform/log';
import { ChatRequest, State } from '../../shared/core/model';
import { payloadHash } from '../../shared/core/request/hash';
import { parseProvisioningRequest } from '../../shared/core/request/parse';
import { buildServices, Services } from '../../shared/platform/composition-root';
import { FINAL_LOOK_DELAY_MS, processRequestMessage, WorkerDeps, WorkResult } from '../../shared/use-cases/worker';
import { eventually, startStack, Stack } from '../support/stack';

const POST_CHATS = { method: 'POST', pathPrefix: '/v1.0/chats' };

interface Harness {
  svc: Services;
  lines: string[];
  log: Logger;
  clock: { ms: number };
  deps: WorkerDeps;
  submit(body: unknown): Promise<ChatRequest>;
  /** Receives the one visible message, deletes it, and returns what it carries. */
  takeMessage(): Promise<{ id: string; attempt: number; sentAt?: string }>;
  work(message: { id: string; attempt: number; sentAt?: string }): Promise<WorkResult>;
  row(id: string): Promise<ChatRequest>;
  /** Runs the request's current attempt `advanceMs` after its nextAttemptAt. */
  retry(id: string): Promise<WorkResult>;
  queueCounts(): Promise<{ total: number; visible: number }>;
}

let stack: Stack;
let serial = 0;

async function harness(env: Record<string, string> = {}): Promise<Harness> {
  serial += 1;
  const svc = buildServices(
    loadConfig({
      ...stack.env,
      CHAT_REQUESTS_QUEUE: `worker-${serial}`,
      CHAT_REQUESTS_TABLE: `Worker${serial}`,
      ...env,
    }),
  );
  await svc.ready();
  const lines: string[] = [];
  const log = jsonLogger((_level, line) => lines.push(line));
  const clock = { ms: Date.now() };
  const now = () => new Date(clock.ms);
  const deps: WorkerDeps = {
    store: svc.store,
    queue: svc.queue,
    graph: svc.graph,
    gate: svc.gate,
    graceMinutes: svc.config.newUserGraceMinutes,
    log,
    now,
    random: () => 0.5,
  };
  const h: Harness = {
    svc,
    lines,
    log,
    clock,
    deps,
    async submit(body) {
      const parsed = parseProvisioningRequest(body, now());
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
      // What intake records and sends (intake itself is tested elsewhere).
      const request = newChatRequest(parsed.value, payloadHash(parsed.value), newRequestId(now()), now());
      await svc.store.create(request);
      const delayMs = request.notBefore ? Date.parse(request.notBefore) - clock.ms : 0;
      await svc.queue.send({ id: request.id, attempt: 0 }, Math.max(0, delayMs) / 1000);
      return request;
    },
    async takeMessage() {
      const received = await svc.queueClient.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 60 });
      const item = received.receivedMessageItems[0];
      if (!item) throw new Error('no visible message');
      await svc.queueClient.deleteMessage(item.messageId, item.popReceipt);
      return JSON.parse(Buffer.from(item.messageText, 'base64').toString('utf8')) as {
        id: string;
        attempt: number;
        sentAt?: string;
      };
    },
    work: (message) => processRequestMessage(message, deps),
    async row(id) {
      return (await svc.store.get(id))!.value;
    },
    async retry(id) {
      const current = await h.row(id);
      expect(current.state).toBe(State.queued);
      clock.ms = Math.max(clock.ms, Date.parse(current.nextAttemptAt!));
      return processRequestMessage({ id, attempt: current.attempts }, deps);
    },
    async queueCounts() {
      const props = await svc.queueClient.getProperties();
      const peek = await svc.queueClient.peekMessages({ numberOfMessages: 32 });
      return { total: props.approximateMessagesCount ?? 0, visible: peek.peekedMessageItems.length };
    },
  };
  return h;
}

function group(topic: string, members = ['user1@contoso.com', 'user2@contoso.com', 'user3@contoso.com']) {
  return { chatType: 'group', topic, members };
}

const posts = (since: number) =>
  stack.sim.control.requests(since).filter((r) => r.method === 'POST' && r.path === '/v1.0/chats');
const lastSeq = () => stack.sim.control.requests().at(-1)?.seq ?? 0;

beforeAll(async () => {
  stack = await startStack({ host: false, simulator: { tenantRps: 1000 } });
});
afterAll(async () => {
  await stack?.stop();
});
afterEach(() => stack.sim.control.clearFaults());

describe('worker answer table (Azurite + simulator)', () => {
  it('201 → succeeded with chat id, webUrl, createdDateTime and tenantId; the message is used up', async () => {
    // Prepare
    const h = await harness();
    const request = await h.submit(group('Row 201'));
    // Act
    const result = await h.work(await h.takeMessage());
    // Assess
    expect(result).toBe('succeeded');
    const row = await h.row(request.id);
    expect(row.state).toBe(State.succeeded);
    expect(row.attempts).toBe(1);
    const simChat = stack.sim.control.chats().chats.find((c) => c.id === row.chat?.id);
    expect(simChat).toMatchObject({ chatType: 'group', topic: 'Row 201' });
    expect(row.chat).toEqual({
      id: simChat!.id,
      webUrl: expect.stringMatching(/^https:\/\/teams\.microsoft\.com\/l\/chat\//),
      createdDateTime: simChat!.createdDateTime,
      tenantId: stack.sim.tenantId,
    });
    expect(row.error).toBeUndefined();
    expect(await h.queueCounts()).toEqual({ total: 0, visible: 0 });
  });

  it('202 → pending with the Location made absolute for the poller', async () => {
    const h = await harness();
    const request = await h.submit({
      ...group('Row 202'),
      apps: [{ teamsAppId: '05F59CEC-A742-4A50-A62E-202A57E478A4' }],
    });
    expect(await h.work(await h.takeMessage())).toBe('pending');
    const row = await h.row(request.id);
    expect(row.state).toBe(State.pending);
    expect(row.operation).toMatchObject({ status: 'notStarted', checks: 0 });
    expect(row.operation!.location).toMatch(
      new RegExp(`^${stack.sim.graphBaseUrl}/beta/chats\\('19:[0-9a-f]+@thread\\.v2'\\)/operations\\('[^']+'\\)$`),
    );
    expect(Date.parse(row.operation!.nextCheckAt!)).toBeGreaterThan(h.clock.ms);
    // The pending index is what the timer reads.
    const due = await h.svc.store.listDue(State.pending, new Date(h.clock.ms + 60_000), 10);
    expect(due.map((d) => d.id)).toEqual([request.id]);
  });

  it("400 → failed with Graph's code, message, request-id and client-request-id; not retried", async () => {
    const h = await harness();
    const request = await h.submit({
      chatType: 'group',
      topic: 'Row 400',
      members: ['user1@contoso.com', 'user2@contoso.com', 'user3@contoso.com'],
    });
    // A body Graph refuses: patch the stored body (the schema would not let it in).
    const stored = (await h.svc.store.get(request.id))!;
    stored.value.graphBody.members[0]!.roles = ['member'];
    await h.svc.store.replace(stored, stored.value);
    const since = lastSeq();

    expect(await h.work(await h.takeMessage())).toBe('failed');

    const row = await h.row(request.id);
    const post = posts(since)[0]!;
    expect(row.state).toBe(State.failed);
    expect(row.error).toEqual({
      code: 'BadRequest',
      message: "The passed-in role 'member' is not supported.",
      httpStatus: 400,
      retryable: false,
      graphRequestId: expect.any(String),
      clientRequestId: post.headers['client-request-id'],
    });
    expect(await h.queueCounts()).toEqual({ total: 0, visible: 0 });
  });

  it('403 no license → retried with growing delays for NEW_USER_GRACE_MINUTES, then failed saying so', async () => {
    const h = await harness({ NEW_USER_GRACE_MINUTES: '60' });
    const request = await h.submit(group('Row 403', ['user1@contoso.com', 'unlicensed@contoso.com']));

    expect(await h.work(await h.takeMessage())).toBe('retry');
    const delays: number[] = [];
    let row = await h.row(request.id);
    expect(row.error).toMatchObject({ code: 'Forbidden', httpStatus: 403, retryable: true });
    expect(row.error!.message).toMatch(/no Teams license/);
    for (let i = 0; i < 20 && row.state === State.queued; i += 1) {
      delays.push(Date.parse(row.nextAttemptAt!) - h.clock.ms);
      await h.retry(request.id);
      row = await h.row(request.id);
    }
    // Assess: growing (never shrinking) delays, the window honoured, then a message that says what to do.
    expect(delays.length).toBeGreaterThan(2);
    for (let i = 1; i < delays.length - 1; i += 1) expect(delays[i]!).toBeGreaterThanOrEqual(delays[i - 1]!);
    expect(row.state).toBe(State.failed);
    expect(Date.parse(row.updatedAt) - Date.parse(row.graceStartedAt!)).toBeGreaterThanOrEqual(60 * 60_000);
    expect(row.error).toMatchObject({ code: 'Forbidden', httpStatus: 403, retryable: false });
    expect(row.error!.message).toMatch(/no Teams license/);
    expect(row.error!.message).toMatch(/Failed to get license information for the user/);
    expect(row.error!.message).toMatch(/60 minutes \(NEW_USER_GRACE_MINUTES\)/);
  });

  it('404 user not found → retried for the grace window, then failed naming the setting', async () => {
    const h = await harness({ NEW_USER_GRACE_MINUTES: '30' });
    const request = await h.submit(group('Row 404', ['user1@contoso.com', 'nobody.ever@contoso.com']));
    expect(await h.work(await h.takeMessage())).toBe('retry');
    let row = await h.row(request.id);
    for (let i = 0; i < 20 && row.state === State.queued; i += 1) {
      await h.retry(request.id);
      row = await h.row(request.id);
    }
    expect(row.state).toBe(State.failed);
    expect(row.error).toMatchObject({ code: 'NotFound', httpStatus: 404, retryable: false });
    expect(row.error!.message).toMatch(/not found in the directory/);
    expect(row.error!.message).toMatch(/30 minutes \(NEW_USER_GRACE_MINUTES\)/);
    expect(row.error!.graphRequestId).toBeTruthy();
  });

  it('404 for a new hire who replicates within the window → succeeded on a later attempt', async () => {
    const h = await harness({ NEW_USER_GRACE_MINUTES: '240' });
    stack.sim.control.upsertUsers({
      userPrincipalName: 'ana.newhire@contoso.com',
      availableAt: new Date(Date.now() + 3600_000).toISOString(),
    });
    const request = await h.submit(group('Welcome Ana', ['user1@contoso.com', 'ana.newhire@contoso.com']));
    expect(await h.work(await h.takeMessage())).toBe('retry');
    expect((await h.row(request.id)).graceStartedAt).toBeDefined();

    // Entra replicates her.
    stack.sim.control.upsertUsers({ userPrincipalName: 'ana.newhire@contoso.com', availableAt: null });
    expect(await h.retry(request.id)).toBe('succeeded');
    const row = await h.row(request.id);
    expect(row.state).toBe(State.succeeded);
    expect(row.attempts).toBe(2);
  });

  it('429 with a fractional Retry-After → re-enqueued, invisible for that long, then visible; nothing else', async () => {
    const h = await harness();
    const request = await h.submit(group('Row 429'));
    stack.sim.control.addFault({ match: POST_CHATS, fault: { type: 'status', status: 429, retryAfter: 1.5 } });

    expect(await h.work(await h.takeMessage())).toBe('retry');

    const row = await h.row(request.id);
    expect(row.state).toBe(State.queued);
    expect(Date.parse(row.nextAttemptAt!) - Date.parse(row.updatedAt)).toBe(1500);
    expect(row.error).toMatchObject({ code: 'TooManyRequests', httpStatus: 429, retryable: true });
    // The retry is a new message with a visibility delay (not a thrown error): there, but not yet visible.
    expect(await h.queueCounts()).toEqual({ total: 1, visible: 0 });
    await eventually(async () => ((await h.queueCounts()).visible === 1 ? true : undefined), 100, 100);
    const message = await h.takeMessage();
    expect(message).toEqual({ id: request.id, attempt: 1 });
    h.clock.ms = Date.now();
    expect(await h.work(message)).toBe('succeeded');
  });

  it('429 without Retry-After → exponential backoff with jitter, growing with each 429', async () => {
    const h = await harness();
    const request = await h.submit(group('Row 429 bare'));
    stack.sim.control.addFault({
      match: POST_CHATS,
      count: 3,
      fault: { type: 'status', status: 429, retryAfter: null },
    });
    expect(await h.work(await h.takeMessage())).toBe('retry');
    const delays: number[] = [];
    let row = await h.row(request.id);
    delays.push(Date.parse(row.nextAttemptAt!) - Date.parse(row.updatedAt));
    for (let i = 0; i < 2; i += 1) {
      // The shared pause from the last 429 has to pass before this instance sends again.
      h.clock.ms = Date.parse(row.nextAttemptAt!);
      await new Promise((r) => setTimeout(r, Math.max(0, h.svc.gate.pausedUntil - Date.now())));
      expect(await h.retry(request.id)).toBe('retry');
      row = await h.row(request.id);
      delays.push(Date.parse(row.nextAttemptAt!) - Date.parse(row.updatedAt));
    }
    expect(delays[0]).toBeGreaterThan(0);
    expect(delays[1]!).toBeGreaterThan(delays[0]!);
    expect(delays[2]!).toBeGreaterThan(delays[1]!);
  });

  it('5xx, timeouts and resets → retried with growing backoff, then failed at the limit', async () => {
    const h = await harness();
    const request = await h.submit(group('Row 5xx'));
    // Every kind of transient failure, before Graph did the work (so the lookups find nothing).
    const kinds = [
      { type: 'status', status: 500 },
      { type: 'status', status: 502 },
      { type: 'status', status: 503, retryAfter: null },
      { type: 'status', status: 504 },
      { type: 'reset' },
    ] as const;
    for (let i = 0; i < MAX_TRANSIENT_FAILURES; i += 1) {
      stack.sim.control.addFault({ match: POST_CHATS, fault: kinds[i % kinds.length]! });
    }
    const before = stack.sim.control.chats().count;
    expect(await h.work(await h.takeMessage())).toBe('retry');
    const delays: number[] = [];
    let row = await h.row(request.id);
    for (let i = 0; i < MAX_TRANSIENT_FAILURES - 1 && row.state === State.queued; i += 1) {
      delays.push(Date.parse(row.nextAttemptAt!) - Date.parse(row.updatedAt));
      expect(row.error?.retryable).toBe(true);
      await h.retry(request.id);
      row = await h.row(request.id);
    }
    // Out of retries on answers that may have been lost (5xx, resets): one last attempt only looks for the chat.
    expect(row).toMatchObject({ state: State.queued, transientFailures: MAX_TRANSIENT_FAILURES });
    expect(Date.parse(row.nextAttemptAt!) - Date.parse(row.updatedAt)).toBe(FINAL_LOOK_DELAY_MS);
    const posts = stack.sim.control.requests().filter((r) => r.method === 'POST' && r.path === '/v1.0/chats').length;
    await h.retry(request.id);
    row = await h.row(request.id);
    expect(stack.sim.control.requests().filter((r) => r.method === 'POST' && r.path === '/v1.0/chats').length).toBe(
      posts,
    );
    expect(row.state).toBe(State.failed);
    expect(row.attempts).toBe(MAX_TRANSIENT_FAILURES + 1);
    expect(row.transientFailures).toBe(MAX_TRANSIENT_FAILURES);
    expect(row.error!.message).toMatch(new RegExp(`gave up after ${MAX_TRANSIENT_FAILURES} attempts`));
    expect(row.error!.retryable).toBe(false);
    for (let i = 1; i < delays.length; i += 1) expect(delays[i]!).toBeGreaterThan(delays[i - 1]!);
    expect(stack.sim.control.chats().count).toBe(before);
  });

  it('a wrong client secret → failed at once with what to fix; Graph is never called, nothing re-enqueued', async () => {
    const h = await harness({ GRAPH_CLIENT_SECRET: 'wrong-secret-value' });
    const request = await h.submit(group('Row token'));
    const since = lastSeq();
    expect(await h.work(await h.takeMessage())).toBe('failed');
    const row = await h.row(request.id);
    expect(row.state).toBe(State.failed);
    expect(row.attempts).toBe(1);
    expect(row.error).toMatchObject({ code: 'invalid_client', retryable: false });
    expect(row.error!.message).toMatch(/GRAPH_TENANT_ID, GRAPH_CLIENT_ID and the client secret/);
    expect(row.error!.message).toMatch(/AADSTS7000215/);
    expect(row.error!.message).not.toContain('wrong-secret-value');
    expect(posts(since)).toHaveLength(0);
    expect(await h.queueCounts()).toEqual({ total: 0, visible: 0 });
  });

  it('an Entra outage (temporarily_unavailable) is retried like a 5xx, not failed as configuration', async () => {
    const h = await harness();
    const request = await h.submit(group('Row token outage'));
    stack.sim.control.addFault({
      match: { method: 'POST', pathPrefix: `/${stack.sim.tenantId}/oauth2/v2.0/token` },
      count: 10,
      fault: { type: 'tokenError', error: 'temporarily_unavailable' },
    });
    expect(await h.work(await h.takeMessage())).toBe('retry');
    const row = await h.row(request.id);
    expect(row.error).toMatchObject({ code: 'temporarily_unavailable', retryable: true });
    expect(row.transientFailures).toBe(1);
  });

  it("intake's message comes before its row: sent again 5 s later, then it makes the chat", async () => {
    // Prepare: real intake, whose row insert is held until the worker has seen the message
    const h = await harness();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const store = Object.create(h.svc.store) as typeof h.svc.store;
    store.create = async (request) => {
      await held;
      return h.svc.store.create(request);
    };
    const parsed = parseProvisioningRequest(group('Row after message'), new Date(h.clock.ms));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const submitted = submitRequest(parsed.value, payloadHash(parsed.value), [], {
      store,
      queue: h.svc.queue,
      log: h.log,
      now: () => new Date(h.clock.ms),
    });
    const since = lastSeq();

    // Act 1: the message is there, the row is not
    const first = await eventually(() => h.takeMessage().catch(() => undefined));
    const early = await h.work(first);

    // Assess 1
    expect(first).toEqual({ id: expect.any(String), attempt: 0, sentAt: new Date(h.clock.ms).toISOString() });
    expect(early).toBe('deferred');
    expect(await h.queueCounts()).toEqual({ total: 1, visible: 0 });
    expect(h.lines.some((l) => l.includes('"event":"message.rowNotYetWritten"'))).toBe(true);

    // Act 2: the row lands; the message comes back
    release();
    const created = await submitted;
    const again = await eventually(() => h.takeMessage().catch(() => undefined));
    const result = await h.work(again);

    // Assess 2
    expect(created.kind).toBe('created');
    expect(again).toEqual(first);
    expect(result).toBe('succeeded');
    expect(posts(since)).toHaveLength(1);
    expect((await h.row(first.id)).chat?.id).toMatch(/^19:/);
  });

  it('notBefore in the future → deferred with a queue delay, no Graph call', async () => {
    const h = await harness();
    const notBefore = new Date(h.clock.ms + 3600_000).toISOString();
    const request = await h.submit({ ...group('Row notBefore'), notBefore });
    expect((await h.queueCounts()).visible).toBe(0);
    const since = lastSeq();
    expect(await h.work({ id: request.id, attempt: 0 })).toBe('deferred');
    expect(posts(since)).toHaveLength(0);
    expect(await h.queueCounts()).toEqual({ total: 2, visible: 0 });
    expect((await h.row(request.id)).state).toBe(State.queued);
  });

  it('AIMD: a 429 cuts the fleet rate in the shared table row and pauses everyone', async () => {
    const h = await harness({ GRAPH_MAX_RPS: '20' });
    const request = await h.submit(group('Row AIMD'));
    stack.sim.control.addFault({ match: POST_CHATS, fault: { type: 'status', status: 429, retryAfter: 2 } });
    const before = Date.now();
    expect(await h.work(await h.takeMessage())).toBe('retry');
    const fleet = await h.svc.workTable.getEntity<{ rate: number; pausedUntil: number }>('throttle', 'graph');
    expect(fleet.rate).toBeLessThan(20);
    expect(fleet.rate).toBeGreaterThanOrEqual(0.5);
    expect(fleet.pausedUntil).toBeGreaterThanOrEqual(before + 2000);
    expect((await h.row(request.id)).state).toBe(State.queued);
  });
});
