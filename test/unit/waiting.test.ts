import { ChatRequest, State } from '../../shared/core/model';
import { newChatRequest } from '../../shared/use-cases/intake';
import { parseProvisioningRequest } from '../../shared/core/request/parse';
import { payloadHash } from '../../shared/core/request/hash';
import { aimdSettings } from '../../shared/core/rate/aimd';
import { GraphRateGate } from '../../shared/core/rate/gate';
import { ATTEMPT_LEASE_MS, processRequestMessage, WorkerDeps } from '../../shared/use-cases/worker';
import { STALE_CREATING_MS } from '../../shared/use-cases/poller';
import { silentLogger } from '../../shared/platform/log';
import { newRequestId } from '../../shared/core/ids';
import { requestView, waitingFor } from '../../shared/use-cases/waiting';
import { RequestResourceSchema } from '../../shared/http/api-schemas';
import { MemoryFleetRateStore, MemoryQueue, MemoryRequestStore } from '../support/memory-store';
import { response, ScriptedGraph } from '../support/fake-graph';

/** The rows come from the real worker (scripted Graph answers), so `waiting` is read from what it really stores. */
const T0 = new Date('2026-11-24T12:00:00Z');
const body = { chatType: 'group', topic: 'Welcome Ana', members: ['ana@contoso.com', 'mgr@contoso.com'] };

function setup() {
  const store = new MemoryRequestStore();
  const graph = new ScriptedGraph();
  let clock = T0.getTime();
  const deps: WorkerDeps = {
    store,
    queue: new MemoryQueue(),
    graph,
    gate: new GraphRateGate(aimdSettings(1000), new MemoryFleetRateStore(), 'test', () => clock),
    graceMinutes: 240,
    log: silentLogger,
    now: () => new Date(clock),
    random: () => 0.5,
  };
  const seed = async (extra: Record<string, unknown> = {}): Promise<ChatRequest> => {
    const parsed = parseProvisioningRequest({ ...body, ...extra }, new Date(clock));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const request = newChatRequest(
      parsed.value,
      payloadHash(parsed.value),
      newRequestId(new Date(clock)),
      new Date(clock),
    );
    await store.create(request);
    return request;
  };
  const row = async (id: string) => (await store.get(id))!.value;
  return { store, graph, deps, seed, row, now: () => new Date(clock), advance: (ms: number) => (clock += ms) };
}

const graphError = (code: string) => ({ error: { code, message: code } });

describe('waiting: why an unfinished request waits', () => {
  it('a new request is in the queue; a final one has no waiting', async () => {
    const { seed, deps, row, now } = setup();
    const request = await seed();
    expect(waitingFor(request, { now: now() })).toEqual({
      reason: 'inQueue',
      message: 'In the queue, waiting for a worker to take it.',
    });
    await processRequestMessage({ id: request.id, attempt: 0 }, deps);
    const done = await row(request.id);
    expect(done.state).toBe(State.succeeded);
    expect(waitingFor(done, { now: now() })).toBeUndefined();
    expect(requestView(done, { now: now() })).not.toHaveProperty('waiting');
  });

  it('notBefore in the future: waits for it', async () => {
    const { seed, now } = setup();
    const request = await seed({ notBefore: '2026-11-24T15:00:00Z' });
    expect(waitingFor(request, { now: now() })).toMatchObject({ reason: 'notBefore', until: '2026-11-24T15:00:00Z' });
  });

  it('a member not found: new-hire grace, with when the next attempt is and when the grace ends', async () => {
    const { seed, deps, graph, row, now } = setup();
    const request = await seed();
    graph.createAnswers = [response(404, graphError('NotFound'))];
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps)).toBe('retry');
    const stored = await row(request.id);
    const waiting = waitingFor(stored, { now: now(), graceMinutes: 240 });
    expect(waiting).toMatchObject({ reason: 'newHireGrace', until: stored.nextAttemptAt!.replace('.000Z', 'Z') });
    expect(waiting!.message).toContain('240-minute new-hire grace ends at 2026-11-24T16:00:00Z');
  });

  it('429: throttled; 503: retry backoff', async () => {
    const { seed, deps, graph, row, now } = setup();
    const throttled = await seed();
    graph.createAnswers = [response(429, graphError('TooManyRequests'), { retryAfter: '30' })];
    await processRequestMessage({ id: throttled.id, attempt: 0 }, deps);
    expect(waitingFor(await row(throttled.id), { now: now() })).toMatchObject({
      reason: 'throttled',
      until: '2026-11-24T12:00:30Z',
    });

    // A fresh service: the 429 above pauses every worker of this one for 30 s.
    const other = setup();
    const failing = await other.seed();
    other.graph.createAnswers = [response(503, graphError('ServiceUnavailable'))];
    await processRequestMessage({ id: failing.id, attempt: 0 }, other.deps);
    const waiting = waitingFor(await other.row(failing.id), { now: other.now() });
    expect(waiting).toMatchObject({ reason: 'retryBackoff' });
    expect(waiting!.message).toMatch(/ServiceUnavailable, HTTP 503/);
  });

  it('202: the operation is pending until its next check', async () => {
    const { seed, deps, graph, row, now } = setup();
    const request = await seed();
    graph.createAnswers = [response(202, undefined, { location: "/teams('19:x@thread.v2')/operations('op1')" })];
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps)).toBe('pending');
    const stored = await row(request.id);
    expect(waitingFor(stored, { now: now() })).toMatchObject({
      reason: 'operationPending',
      until: stored.operation!.nextCheckAt!.replace('.000Z', 'Z'),
    });
  });

  it('a host that died mid-attempt: leased, until the timer hands the request back', async () => {
    const { seed, deps, graph, row, now, advance } = setup();
    const request = await seed();
    // The Graph call never answers: the row stays `creating`, as when the host dies during the call.
    graph.createChat = () => new Promise(() => undefined);
    void processRequestMessage({ id: request.id, attempt: 0 }, deps);
    await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 20 && (await row(request.id)).state !== State.creating; i++)
      await new Promise((r) => setImmediate(r));
    const stored = await row(request.id);
    expect(stored.state).toBe(State.creating);

    const running = waitingFor(stored, { now: now() });
    expect(running).toMatchObject({
      reason: 'leased',
      until: new Date(T0.getTime() + ATTEMPT_LEASE_MS).toISOString().replace('.000Z', 'Z'),
    });
    expect(running!.message).toMatch(/calling Graph since/);

    advance(ATTEMPT_LEASE_MS + 1000);
    const crashed = waitingFor(stored, { now: now() });
    expect(crashed).toMatchObject({
      reason: 'leased',
      until: new Date(T0.getTime() + STALE_CREATING_MS).toISOString().replace('.000Z', 'Z'),
    });
    expect(crashed!.message).toMatch(/stopped answering, probably a crash, and holds its queue message/);

    advance(STALE_CREATING_MS);
    const overdue = waitingFor(stored, { now: now() });
    expect(overdue).toMatchObject({ reason: 'leased' });
    expect(overdue).not.toHaveProperty('until');
    expect(overdue!.message).toMatch(/check that a host is running/);
  });

  it('a due request not taken for minutes says the queue is long or a host holds its message', async () => {
    const { seed, now, advance } = setup();
    const request = await seed();
    advance(5 * 60_000);
    const waiting = waitingFor(request, { now: now() });
    expect(waiting).toMatchObject({ reason: 'inQueue' });
    expect(waiting!.message).toMatch(
      /lease on it runs out \(10 minutes in Azure; LOCAL_QUEUE_LEASE_SECONDS under the local host\)/,
    );
  });

  it('the view fits the API schema (the OpenAPI document is generated from it)', async () => {
    const { seed, now } = setup();
    const view = requestView(await seed({ notBefore: '2026-11-24T15:00:00Z' }), { now: now() });
    expect(view.waiting?.reason).toBe('notBefore');
    expect(RequestResourceSchema.strict().safeParse(view).success).toBe(true);
  });
});
