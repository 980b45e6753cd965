/**
 * The shared pause and the adaptive rate, between two worker instances on one table (Azurite) and
 * one simulated tenant: when one instance gets a 429, the other waits too.
 */
import { loadConfig } from '../../shared/platform/config';
import { silentLogger } from '../../shared/platform/log';
import { ChatRequest, State } from '../../shared/core/model';
import { buildServices, Services } from '../../shared/platform/composition-root';
import { aimdSettings } from '../../shared/core/rate/aimd';
import { GraphRateGate } from '../../shared/core/rate/gate';
import { TableFleetRateStore } from '../../shared/storage/fleet-rate-table-store';
import { processRequestMessage, WorkerDeps } from '../../shared/use-cases/worker';
import { startStack, Stack } from '../support/stack';
import { seedRequest } from '../support/requests';

const POST_CHATS = { method: 'POST', pathPrefix: '/v1.0/chats' };

let stack: Stack;
let serial = 0;

beforeAll(async () => {
  stack = await startStack({ host: false, simulator: { tenantRps: 1000 } });
});
afterAll(async () => {
  await stack?.stop();
});
afterEach(() => stack.sim.control.clearFaults());

/** Two instances of the app: their own clients and gates, one table and one queue. */
async function twoInstances(env: Record<string, string> = {}): Promise<[Services, Services]> {
  serial += 1;
  const settings = loadConfig({
    ...stack.env,
    CHAT_REQUESTS_QUEUE: `throttle-${serial}`,
    CHAT_REQUESTS_TABLE: `Throttle${serial}`,
    ...env,
  });
  const a = buildServices(settings);
  const b = buildServices(settings);
  await a.ready();
  await b.ready();
  return [a, b];
}

function deps(svc: Services): WorkerDeps {
  return {
    store: svc.store,
    queue: svc.queue,
    graph: svc.graph,
    gate: svc.gate,
    graceMinutes: 240,
    log: silentLogger,
    random: () => 0.5,
  };
}

async function seed(svc: Services, topic: string): Promise<ChatRequest> {
  return seedRequest(svc.store, {
    chatType: 'group',
    topic,
    members: ['user1@contoso.com', 'user2@contoso.com', 'user3@contoso.com'],
  });
}

const postsSince = (seq: number) =>
  stack.sim.control.requests(seq).filter((r) => r.method === 'POST' && r.path === '/v1.0/chats');
const lastSeq = () => stack.sim.control.requests().at(-1)?.seq ?? 0;

function fleetRow(svc: Services) {
  return svc.workTable.getEntity<{ rate: number; pausedUntil: number }>('throttle', 'graph');
}

describe('the shared pause', () => {
  it('instance A gets a 429 (Retry-After 3): instance B does not call Graph during the pause and re-enqueues', async () => {
    // Prepare
    const [a, b] = await twoInstances();
    const first = await seed(a, 'Pause A');
    const second = await seed(b, 'Pause B');
    stack.sim.control.addFault({ match: POST_CHATS, fault: { type: 'status', status: 429, retryAfter: 3 } });
    const since = lastSeq();

    // Act
    expect(await processRequestMessage({ id: first.id, attempt: 0 }, deps(a))).toBe('retry');
    const row = await fleetRow(a);
    const resultB = await processRequestMessage({ id: second.id, attempt: 0 }, deps(b));

    // Assess: B read the pause from the table and went back to the queue without posting.
    expect(row.pausedUntil).toBeGreaterThan(Date.now());
    expect(resultB).toBe('deferred');
    expect(postsSince(since)).toHaveLength(1);
    expect((await b.store.get(second.id))!.value.state).toBe(State.queued);
    expect(b.gate.pausedUntil).toBe(row.pausedUntil);
    // The deferral is a queue message B sent with a visibility delay, not an error.
    const props = await b.queueClient.getProperties();
    const peek = await b.queueClient.peekMessages();
    expect(props.approximateMessagesCount).toBe(2);
    expect(peek.peekedMessageItems).toHaveLength(0);
  });

  it('a short pause (Retry-After 1.2): B waits in-process and posts only after it ends', async () => {
    const [a, b] = await twoInstances();
    const first = await seed(a, 'Short pause A');
    const second = await seed(b, 'Short pause B');
    stack.sim.control.addFault({ match: POST_CHATS, fault: { type: 'status', status: 429, retryAfter: 1.2 } });
    const since = lastSeq();

    expect(await processRequestMessage({ id: first.id, attempt: 0 }, deps(a))).toBe('retry');
    const { pausedUntil } = await fleetRow(a);
    expect(await processRequestMessage({ id: second.id, attempt: 0 }, deps(b))).toBe('succeeded');

    const [throttled, posted] = postsSince(since);
    expect(throttled!.status).toBe(429);
    expect(posted!.status).toBe(201);
    expect(Date.parse(posted!.time)).toBeGreaterThanOrEqual(pausedUntil - 5);
  });

  it('AIMD: the cut rate is in the table row and the other instance adopts it; time regains it', async () => {
    const [a, b] = await twoInstances({ GRAPH_MAX_RPS: '20' });
    const first = await seed(a, 'AIMD A');
    stack.sim.control.addFault({ match: POST_CHATS, fault: { type: 'status', status: 429, retryAfter: 0.2 } });
    expect(await processRequestMessage({ id: first.id, attempt: 0 }, deps(a))).toBe('retry');

    const cut = await fleetRow(a);
    expect(cut.rate).toBeLessThan(20);
    expect(cut.rate).toBeGreaterThanOrEqual(0.5);
    await b.gate.acquire(1000);
    expect(b.gate.fleetRate).toBe(cut.rate);

    // Additive increase: a gate whose clock is 10 s later publishes a higher rate.
    const later = new GraphRateGate(
      aimdSettings(20),
      new TableFleetRateStore(a.workTable),
      'later',
      () => Date.now() + 10_000,
    );
    await later.acquire(1000);
    const regained = await fleetRow(a);
    expect(regained.rate).toBeGreaterThan(cut.rate);
    expect(regained.rate).toBeLessThanOrEqual(20);
  });

  it('many 429s in a burst are one cut, not many (echoes of one overload)', async () => {
    const [a] = await twoInstances({ GRAPH_MAX_RPS: '20' });
    stack.sim.control.addFault({ match: POST_CHATS, count: 5, fault: { type: 'status', status: 429, retryAfter: 0 } });
    const requests = await Promise.all([1, 2, 3, 4, 5].map((n) => seed(a, `Burst ${n}`)));
    await Promise.all(requests.map((r) => processRequestMessage({ id: r.id, attempt: 0 }, deps(a))));
    const row = await fleetRow(a);
    expect(row.rate).toBeGreaterThanOrEqual(20 * 0.7 - 1e-9);
  });
});

describe('the instances’ heartbeats (TableFleetRateStore on Azurite)', () => {
  it('keeps each report in its throttle-instances row, reads back the live ones, forgets the long gone', async () => {
    // Prepare: reports of a busy, an idle, a silent and a long-gone instance, and a row of the earlier layout.
    const [a] = await twoInstances();
    const store = new TableFleetRateStore(a.workTable);
    const now = Date.now();
    await store.heartbeat({ instanceId: 'busy', seenAt: now, acceptedRate: 9.5, busySince: now - 3_000 });
    await store.heartbeat({ instanceId: 'idle', seenAt: now - 1_000, acceptedRate: 7, busySince: now - 9_000 });
    await store.heartbeat({ instanceId: 'idle', seenAt: now - 1_000, acceptedRate: 0 });
    await store.heartbeat({ instanceId: 'silent', seenAt: now - 16_000, acceptedRate: 4, busySince: now - 20_000 });
    await a.workTable.upsertEntity({ partitionKey: 'throttle-instances', rowKey: 'earlier', seenAt: now - 2_000 });
    await a.workTable.upsertEntity({ partitionKey: 'throttle-instances', rowKey: 'gone', seenAt: now - 2 * 3_600_000 });

    // Act
    const live = await store.liveInstances(now);

    // Assess: the stored columns, the live reports (a row without a rate reads as idle), the gone row deleted.
    const busyRow = await a.workTable.getEntity<Record<string, unknown>>('throttle-instances', 'busy');
    expect([busyRow.seenAt, busyRow.acceptedRate, busyRow.busySince]).toEqual([now, 9.5, now - 3_000]);
    const idleRow = await a.workTable.getEntity<Record<string, unknown>>('throttle-instances', 'idle');
    expect(idleRow.busySince).toBeUndefined();
    expect([...live].sort((x, y) => x.instanceId.localeCompare(y.instanceId))).toEqual([
      { instanceId: 'busy', seenAt: now, acceptedRate: 9.5, busySince: now - 3_000 },
      { instanceId: 'earlier', seenAt: now - 2_000, acceptedRate: 0 },
      { instanceId: 'idle', seenAt: now - 1_000, acceptedRate: 0 },
    ]);
    await expect(a.workTable.getEntity('throttle-instances', 'gone')).rejects.toMatchObject({ statusCode: 404 });
    await expect(a.workTable.getEntity('throttle-instances', 'silent')).resolves.toBeDefined();
  });
});

describe('the shared rate row (TableFleetRateStore on Azurite)', () => {
  it('keeps when the rate was learned; a row of an earlier version without it reads as not learned', async () => {
    // Prepare
    const [a] = await twoInstances();
    const store = new TableFleetRateStore(a.workTable);
    const state = { rate: 20.9, pausedUntil: 5, lastDecreaseAt: 4, lastIncreaseAt: 4, learnedAt: 4 };

    // Act + Assess: written and read back whole, then conditionally replaced by an earlier version's row.
    expect(await store.write(state)).toBe(true);
    const read = await store.read();
    expect(read?.state).toEqual(state);
    const { learnedAt: _learnedAt, ...earlier } = state;
    await a.workTable.updateEntity({ partitionKey: 'throttle', rowKey: 'graph', ...earlier }, 'Replace');
    expect((await store.read())?.state).toEqual({ ...earlier, learnedAt: 0 });
  });
});
