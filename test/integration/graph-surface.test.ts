/**
 * Graph's real answers that are not the happy path, against Azurite and the simulator, through the
 * worker: a 400 that is a server fault (and may have made the chat), an app missing from the catalog,
 * a call Teams refuses app-only (412), and a member from a tenant Teams does not federate with. Each must
 * end in the right state with its own cause, and never in a second group chat.
 */
import { loadConfig } from '../../shared/platform/config';
import { MAX_INVOCATION_EXCEPTIONS } from '../../shared/core/graph-retry-policy';
import { jsonLogger } from '../../shared/platform/log';
import { ChatRequest, State } from '../../shared/core/model';
import { buildServices, Services } from '../../shared/platform/composition-root';
import { processRequestMessage, WorkerDeps } from '../../shared/use-cases/worker';
import { startStack, Stack } from '../support/stack';
import { seedRequest } from '../support/requests';

const POST_CHATS = { method: 'POST', pathPrefix: '/v1.0/chats' };
const UNKNOWN_APP = '0b8d2a4c-1e6f-4a3b-9c5d-7e8f9a0b1c2d';
const UNFEDERATED_TENANT = '9f1c2b3a-4d5e-4f60-8a7b-1c2d3e4f5a6b';

let stack: Stack;
let svc: Services;
let serial = 0;

beforeAll(async () => {
  stack = await startStack({ host: false, simulator: { tenantRps: 1000 } });
  svc = buildServices(
    loadConfig({ ...stack.env, CHAT_REQUESTS_QUEUE: 'graph-surface', CHAT_REQUESTS_TABLE: 'GraphSurface' }),
  );
  await svc.ready();
});
afterAll(async () => {
  await stack?.stop();
});
afterEach(() => stack.sim.control.clearFaults());

function deps(): WorkerDeps {
  return {
    store: svc.store,
    queue: svc.queue,
    graph: svc.graph,
    gate: svc.gate,
    graceMinutes: 240,
    log: jsonLogger(() => undefined),
    random: () => 0.5,
  };
}

const seed = (body: unknown): Promise<ChatRequest> => seedRequest(svc.store, body);

function group(topic: string, extra: Record<string, unknown> = {}) {
  serial += 1;
  return {
    chatType: 'group',
    topic: `${topic} ${serial}`,
    members: ['user1@contoso.com', 'user2@contoso.com', 'user3@contoso.com'],
    ...extra,
  };
}

const row = async (id: string) => (await svc.store.get(id))!.value;
const lastSeq = () => stack.sim.control.requests().at(-1)?.seq ?? 0;
const postsSince = (seq: number) =>
  stack.sim.control.requests(seq).filter((r) => r.method === 'POST' && r.path === '/v1.0/chats');
const chatsWithTopic = (topic: string) => stack.sim.control.chats().chats.filter((c) => c.topic === topic);

/** The request's next attempt, at the time it is due (the queue delay is not awaited). */
async function nextAttempt(id: string) {
  const current = await row(id);
  const at = new Date(Math.max(Date.now(), Date.parse(current.nextAttemptAt ?? current.updatedAt)));
  return processRequestMessage({ id, attempt: current.attempts }, { ...deps(), now: () => at });
}

describe('400 "Exception has been thrown by the target of an invocation." (a server fault)', () => {
  it('after Graph made the group chat: retried as an unknown outcome, the next attempt finds it; one chat', async () => {
    const body = group('Invocation after');
    const request = await seed(body);
    const since = lastSeq();
    stack.sim.control.addFault({
      match: POST_CHATS,
      phase: 'after',
      fault: { type: 'graphError', error: 'invocationException' },
    });

    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps())).toBe('retry');
    const unknown = await row(request.id);
    expect(unknown.state).toBe(State.queued);
    expect(unknown.outcomeUnknownSince).toBeDefined();
    expect(unknown.error).toMatchObject({ httpStatus: 400, retryable: true });
    expect(unknown.error!.message).toMatch(/server fault/);

    expect(await nextAttempt(request.id)).toBe('adopted');
    expect(postsSince(since)).toHaveLength(1);
    expect(chatsWithTopic(body.topic)).toHaveLength(1);
    expect((await row(request.id)).chat?.id).toBe(chatsWithTopic(body.topic)[0]!.id);
  });

  it(`before Graph made anything, every time: fails after ${MAX_INVOCATION_EXCEPTIONS} attempts and a last look, saying so; no chat`, async () => {
    const body = group('Invocation always');
    const request = await seed(body);
    const since = lastSeq();
    stack.sim.control.addFault({
      match: POST_CHATS,
      count: MAX_INVOCATION_EXCEPTIONS,
      fault: { type: 'graphError', error: 'invocationException' },
    });

    const results = [await processRequestMessage({ id: request.id, attempt: 0 }, deps())];
    for (let i = 1; i <= MAX_INVOCATION_EXCEPTIONS; i += 1) results.push(await nextAttempt(request.id));

    // The last fault may have come after Graph made the chat: one more attempt only looks, then fails.
    expect(results).toEqual([...Array.from({ length: MAX_INVOCATION_EXCEPTIONS }, () => 'retry'), 'failed']);
    const failed = await row(request.id);
    expect(failed.state).toBe(State.failed);
    expect(failed.error).toMatchObject({ httpStatus: 400, retryable: false });
    expect(failed.error!.message).toMatch(/server fault.*3 attempts/);
    expect(failed.error!.graphRequestId).toBeTruthy();
    expect(postsSince(since)).toHaveLength(MAX_INVOCATION_EXCEPTIONS);
    expect(chatsWithTopic(body.topic)).toHaveLength(0);
  });
});

describe('refusals that no wait can change', () => {
  it('an app not in the catalog fails at once naming it, instead of waiting out the new-hire grace', async () => {
    const request = await seed(group('Unknown app', { apps: [{ teamsAppId: UNKNOWN_APP }] }));
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps())).toBe('failed');
    const failed = await row(request.id);
    expect(failed.error).toMatchObject({ code: 'TeamsAppNotFound', httpStatus: 404, retryable: false });
    expect(failed.error!.message).toContain(`'${UNKNOWN_APP}'`);
    expect(failed.graceStartedAt).toBeUndefined();
  });

  it('a member from a tenant Teams does not federate with fails with that cause, not a permission hint', async () => {
    const request = await seed(
      group('Not federated', {
        members: [
          'user1@contoso.com',
          'user2@contoso.com',
          { user: '5a6b7c8d-0000-4000-8000-000000000009', tenantId: UNFEDERATED_TENANT },
        ],
      }),
    );
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps())).toBe('failed');
    const failed = await row(request.id);
    expect(failed.error).toMatchObject({ code: 'MemberNotFederated', httpStatus: 403, retryable: false });
    expect(failed.error!.message).toMatch(/external access/);
    expect(failed.error!.message).not.toMatch(/Chat\.Create/);
  });

  it('412 PreconditionFailed fails at once, saying Teams refuses the call app-only', async () => {
    const request = await seed(group('App-only'));
    stack.sim.control.addFault({ match: POST_CHATS, fault: { type: 'graphError', error: 'applicationOnly' } });
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps())).toBe('failed');
    const failed = await row(request.id);
    expect(failed.error).toMatchObject({ code: 'PreconditionFailed', httpStatus: 412, retryable: false });
    expect(failed.error!.message).toMatch(/application-only context/);
    // Its own cause: not a missing permission to grant, not something a retry could change.
    expect(failed.error!.message).toMatch(/signed-in user.*not a permission that can be granted/);
  });
});
