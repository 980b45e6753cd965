/**
 * Exactly once against real member data: Graph made the group chat but the worker never heard, and the
 * next attempt must find that chat before it posts again. Real Graph lists a chat's members with
 * `userId` = object id and `email` = mail, which is often not the UPN the caller named, and Teams
 * endpoints may refuse a `$filter` on `createdDateTime`. Every fault point × member form × filter mode
 * must end with exactly one chat, adopted, after one POST. Azurite and the simulator, nothing mocked.
 */
import { loadConfig } from '../../shared/platform/config';
import { createCredential, GraphChats, SdkGraphChats } from '../../shared/graph/graph-client';
import { jsonLogger } from '../../shared/platform/log';
import { ChatRequest, State } from '../../shared/core/model';
import { buildServices, Services } from '../../shared/platform/composition-root';
import { processRequestMessage, WorkerDeps } from '../../shared/use-cases/worker';
import { startStack, Stack } from '../support/stack';
import { seedRequest } from '../support/requests';

const POST_CHATS = { method: 'POST', pathPrefix: '/v1.0/chats' };
/** Built-in simulator users whose mail is not their UPN (ana) or who have no mailbox (dario). */
const ANA = { id: 'a7f3c2e1-5b4d-4c6a-9e8f-1a2b3c4d5e6f', upn: 'ana@contoso.onmicrosoft.com' };
const DARIO_UPN = 'dario@contoso.onmicrosoft.com';
const userId = (n: number) => `5e000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

let stack: Stack;
let svc: Services;
/** The create call through a client with a short timeout, so a held answer times out quickly. */
let hasty: SdkGraphChats;
let serial = 0;
const lines: string[] = [];

beforeAll(async () => {
  stack = await startStack({ host: false, simulator: { tenantRps: 1000 } });
  svc = buildServices(loadConfig({ ...stack.env, CHAT_REQUESTS_QUEUE: 'recovery', CHAT_REQUESTS_TABLE: 'Recovery' }));
  await svc.ready();
  const config = loadConfig(stack.env);
  hasty = new SdkGraphChats(createCredential(config.graph), config.graph, { timeoutMs: 250 });
});
afterAll(async () => {
  await stack?.stop();
});
afterEach(() => {
  stack.sim.control.clearFaults();
  stack.sim.control.configure({ createdDateTimeFilter: 'accepted', grantedRoles: [...DEFAULT_ROLES] });
});
const DEFAULT_ROLES = ['Chat.Create', 'Chat.ReadBasic.All', 'User.ReadBasic.All'];

/** The service's Graph port, except that POST /chats gives up after 250 ms. */
function graphWithHastyPost(base: GraphChats = svc.graph): GraphChats {
  return {
    createChat: (body) => hasty.createChat(body),
    getOperation: (location) => base.getOperation(location),
    getChat: (chatId) => base.getChat(chatId),
    listUserChats: (user, since) => base.listUserChats(user, since),
    getUserId: (user) => base.getUserId(user),
    resolveLocation: (location) => base.resolveLocation(location),
  };
}

function deps(overrides: Partial<WorkerDeps> = {}): WorkerDeps {
  return {
    store: svc.store,
    queue: svc.queue,
    graph: graphWithHastyPost(),
    gate: svc.gate,
    graceMinutes: 240,
    log: jsonLogger((_level, line) => lines.push(line)),
    random: () => 0.5,
    ...overrides,
  };
}

const seed = (body: unknown): Promise<ChatRequest> => seedRequest(svc.store, body);

const row = async (id: string) => (await svc.store.get(id))!.value;
const chatsWithTopic = (topic: string) => stack.sim.control.chats().chats.filter((c) => c.topic === topic);
const lastSeq = () => stack.sim.control.requests().at(-1)?.seq ?? 0;
const since = (seq: number) => stack.sim.control.requests(seq);
const postsSince = (seq: number) => since(seq).filter((r) => r.method === 'POST' && r.path === '/v1.0/chats');
const listingsSince = (seq: number) =>
  since(seq).filter((r) => r.method === 'GET' && /^\/v1\.0\/users\/[^/?]+\/chats/.test(r.path));
const userLookupsSince = (seq: number) =>
  since(seq).filter((r) => r.method === 'GET' && /^\/v1\.0\/users\/[^/?]+\?/.test(r.path));

/** Runs the request's next attempt once it is due (the clock jumps there; the queue delay is not awaited). */
async function nextAttempt(id: string, d: WorkerDeps) {
  const current = await row(id);
  const at = new Date(Math.max(Date.now(), Date.parse(current.nextAttemptAt ?? current.updatedAt)));
  return processRequestMessage({ id, attempt: current.attempts }, { ...d, now: () => at });
}

const FAULT_POINTS = [
  ['the answer is lost after Graph made the chat', { type: 'reset' }],
  ['the client times out', { type: 'delay', ms: 1000 }],
  ['Graph answers 5xx after making the chat', { type: 'status', status: 503, retryAfter: null }],
] as const;

/** Members named by a UPN whose mail differs, by object id, and mixed; `upns` counts the UPNs to resolve. */
const MEMBER_FORMS: [string, (n: number) => { members: string[]; upns: number }][] = [
  [
    'UPNs whose mail differs',
    (n) => ({ members: [`user${n}@contoso.com`, ANA.upn, `user${n + 1}@contoso.com`], upns: 3 }),
  ],
  ['object ids', (n) => ({ members: [userId(n), ANA.id, userId(n + 1).toUpperCase()], upns: 0 })],
  [
    'mixed, one without a mailbox',
    (n) => ({ members: [`user${n}@contoso.com`, ANA.id, userId(n + 1), DARIO_UPN], upns: 2 }),
  ],
];

const FILTER_MODES = ['accepted', 'refused'] as const;

const CASES = FAULT_POINTS.flatMap(([fault, action]) =>
  MEMBER_FORMS.flatMap(([form, members]) => FILTER_MODES.map((mode) => [fault, form, mode, action, members] as const)),
);

describe('exactly once against real member data', () => {
  it.each(CASES)('%s, members by %s, createdDateTime filter %s: one chat', async (_f, _m, mode, action, form) => {
    // Prepare: members no earlier case used, the filter mode, and the fault after the work.
    serial += 1;
    const { members, upns } = form(600 + serial * 3);
    const topic = `Recovery ${serial}`;
    const request = await seed({ chatType: 'group', topic, members });
    stack.sim.control.configure({ createdDateTimeFilter: mode });
    stack.sim.control.addFault({ match: POST_CHATS, phase: 'after', fault: action });
    const start = lastSeq();

    // Act: the first attempt cannot know; the next one looks before posting.
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps())).toBe('retry');
    expect((await row(request.id)).outcomeUnknownSince).toBeDefined();
    expect(await nextAttempt(request.id, deps())).toBe('adopted');

    // Assess: one POST, one chat, the request names it; the body Graph got is the caller's.
    const made = chatsWithTopic(topic);
    expect(made).toHaveLength(1);
    const posts = postsSince(start);
    expect(posts).toHaveLength(1);
    expect(posts[0]!.body).toEqual(request.graphBody);
    const done = await row(request.id);
    expect(done.state).toBe(State.succeeded);
    expect(done.chat?.id).toBe(made[0]!.id);
    // Each UPN was resolved once; a refused filter was followed by a listing without one.
    expect(userLookupsSince(start)).toHaveLength(upns);
    const listings = listingsSince(start);
    if (mode === 'refused') {
      expect(listings[0]).toMatchObject({ status: 400 });
      expect(
        listings
          .slice(1)
          .every((r) => r.status === 200 && !r.path.includes('%24filter') && !r.path.includes('$filter')),
      ).toBe(true);
      expect(listings.length).toBeGreaterThan(1);
    } else {
      expect(listings.map((r) => r.status)).toEqual([200]);
    }
  });
});

describe('the filter-free listing is bounded', () => {
  const bind = (user: string) => ({
    '@odata.type': '#microsoft.graph.aadUserConversationMember' as const,
    roles: ['owner' as const],
    'user@odata.bind': `https://graph.microsoft.com/v1.0/users('${user}')`,
  });
  const [D, E, F] = ['user901@contoso.com', 'user902@contoso.com', 'user903@contoso.com'];
  const PAGE_LIMIT = 2;
  let bounded: GraphChats;

  beforeAll(async () => {
    // More chats for each of D, E and F than PAGE_LIMIT pages of 50 hold (oldest first in the simulator).
    for (let i = 0; i < PAGE_LIMIT * 50 + 1; i += 1) {
      const answer = await svc.graph.createChat({
        chatType: 'group',
        topic: `Noise ${i}`,
        members: [D, E, F].map(bind),
      });
      expect(answer).toMatchObject({ status: 201 });
    }
    const config = loadConfig(stack.env);
    bounded = graphWithHastyPost(
      new SdkGraphChats(createCredential(config.graph), config.graph, { unfilteredPageLimit: PAGE_LIMIT }),
    );
  });

  it('stops at the bound for a member with many chats and finds the chat through the next member', async () => {
    const topic = 'Bounded, second member';
    const request = await seed({ chatType: 'group', topic, members: [D, 'user904@contoso.com', ANA.id] });
    stack.sim.control.configure({ createdDateTimeFilter: 'refused' });
    stack.sim.control.addFault({ match: POST_CHATS, phase: 'after', fault: { type: 'reset' } });
    const start = lastSeq();

    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps({ graph: bounded }))).toBe('retry');
    expect(await nextAttempt(request.id, deps({ graph: bounded }))).toBe('adopted');

    expect(chatsWithTopic(topic)).toHaveLength(1);
    expect(postsSince(start)).toHaveLength(1);
    const listings = listingsSince(start).map((r) => `${decodeURIComponent(r.path.split('/chats')[0]!)} ${r.status}`);
    expect(listings).toEqual([
      `/v1.0/users/${D} 400`,
      ...Array.from({ length: PAGE_LIMIT }, () => `/v1.0/users/${D} 200`),
      '/v1.0/users/user904@contoso.com 400',
      '/v1.0/users/user904@contoso.com 200',
    ]);
  });

  it('when every member listed is cut off by the bound: fails naming what to check, never posts again', async () => {
    const topic = 'Bounded, all members';
    const request = await seed({ chatType: 'group', topic, members: [D, E, F] });
    stack.sim.control.configure({ createdDateTimeFilter: 'refused' });
    stack.sim.control.addFault({ match: POST_CHATS, phase: 'after', fault: { type: 'reset' } });
    const start = lastSeq();

    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps({ graph: bounded }))).toBe('retry');
    expect(await nextAttempt(request.id, deps({ graph: bounded }))).toBe('failed');

    const failed = await row(request.id);
    expect(failed.error).toMatchObject({ code: 'ChatLookupIncomplete', retryable: false });
    expect(failed.error?.message).toContain('Look for the chat in Teams');
    expect(failed.outcomeUnknownSince).toBeDefined();
    expect(postsSince(start)).toHaveLength(1);
    expect(chatsWithTopic(topic)).toHaveLength(1);
    // Three members, each: the refused filter, then exactly PAGE_LIMIT pages.
    expect(listingsSince(start)).toHaveLength(3 * (1 + PAGE_LIMIT));
  });
});

describe('reading members needs User.ReadBasic.All', () => {
  it('without it the request fails naming the permission, and Graph is not posted to again', async () => {
    // Prepare: an app without the user-read role (a fresh credential, so a fresh token).
    stack.sim.control.configure({ grantedRoles: ['Chat.Create', 'Chat.ReadBasic.All'] });
    const config = loadConfig(stack.env);
    const graph = new SdkGraphChats(createCredential(config.graph), config.graph);
    const topic = 'No user read';
    const request = await seed({ chatType: 'group', topic, members: [ANA.upn, 'user950@contoso.com', userId(951)] });
    stack.sim.control.addFault({ match: POST_CHATS, phase: 'after', fault: { type: 'status', status: 502 } });
    const start = lastSeq();

    // Act
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps({ graph }))).toBe('retry');
    expect(await nextAttempt(request.id, deps({ graph }))).toBe('failed');

    // Assess
    const failed = await row(request.id);
    expect(failed.error).toMatchObject({ code: 'Authorization_RequestDenied', httpStatus: 403, retryable: false });
    expect(failed.error?.message).toMatch(/User\.ReadBasic\.All.*Insufficient privileges/);
    expect(failed.outcomeUnknownSince).toBeDefined();
    expect(postsSince(start)).toHaveLength(1);
    expect(chatsWithTopic(topic)).toHaveLength(1);
  });
});

describe('a member the directory no longer knows by that UPN', () => {
  it('is not resolved, so the chat is not adopted; posting again is refused by Graph too: still one chat', async () => {
    // Prepare: a member renamed after Graph made the chat whose answer was lost.
    const ZOE = 'e1b7a6c5-9f80-4a0e-b2c3-5e6f708192a3';
    stack.sim.control.upsertUsers({ id: ZOE, userPrincipalName: 'zoe@contoso.com', mail: 'zoe.ramos@contoso.com' });
    const topic = 'Renamed member';
    const request = await seed({ chatType: 'group', topic, members: [ANA.upn, 'zoe@contoso.com', userId(961)] });
    stack.sim.control.addFault({ match: POST_CHATS, phase: 'after', fault: { type: 'reset' } });
    const start = lastSeq();
    expect(await processRequestMessage({ id: request.id, attempt: 0 }, deps())).toBe('retry');
    stack.sim.control.upsertUsers({ id: ZOE, userPrincipalName: 'zoe.ramos@contoso.onmicrosoft.com' });

    // Act: the lookup finds a lookalike chat, but the UPN is not in the directory any more.
    expect(await nextAttempt(request.id, deps())).toBe('retry');

    // Assess: Graph refused the second POST (404, retried for the new-hire grace); one chat.
    expect(userLookupsSince(start).map((r) => r.status)).toContain(404);
    expect(postsSince(start).map((r) => r.status)).toEqual([null, 404]); // null: the reset answer
    expect(chatsWithTopic(topic)).toHaveLength(1);
    expect((await row(request.id)).error).toMatchObject({ code: 'NotFound' });
  });
});
