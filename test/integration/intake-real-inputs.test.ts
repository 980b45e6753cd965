/**
 * Real callers' inputs through the whole service (HTTP intake → queue → worker → the Graph simulator, on real
 * Azurite): a guest's `#EXT#` UPN reaches Graph exactly as written, in the body and in any URL path, and the
 * bind forms and null topic real code sends are taken. The rules themselves are unit-tested in
 * test/unit/request-schema.test.ts.
 */
import type { RecordedRequest } from '../../dev/simulator/request-log';
import { eventually, startStack, Stack } from '../support/stack';

const GUEST = 'ana_fabrikam.com#EXT#@contoso.onmicrosoft.com';
const GUEST_BIND = `https://graph.microsoft.com/v1.0/users('${GUEST}')`;

interface Resource {
  id: string;
  state: string;
  chat?: { id: string };
  members: { user: string; role: string }[];
  error?: { code: string; message: string };
}

const member = (bind: string, role = 'owner') => ({
  '@odata.type': '#microsoft.graph.aadUserConversationMember',
  roles: [role],
  'user@odata.bind': bind,
});

let stack: Stack;
let guestId: string;

beforeAll(async () => {
  stack = await startStack();
  // A B2B guest as Entra names them: <mail with @ as _>#EXT#@<home tenant's initial domain>.
  const [guest] = stack.sim.control.upsertUsers({
    userPrincipalName: GUEST,
    displayName: 'Ana (Fabrikam)',
    guest: true,
  });
  guestId = guest!.id;
});
afterAll(async () => {
  await stack?.stop();
});
afterEach(() => stack.sim.control.clearFaults());

async function submit(body: unknown): Promise<Resource> {
  const answer = await stack.api('/api/requests', { method: 'POST', json: body });
  const text = await answer.text();
  expect({ status: answer.status, text }).toEqual({ status: 202, text: expect.any(String) });
  return JSON.parse(text) as Resource;
}

async function final(id: string): Promise<Resource> {
  return eventually(async () => {
    const current = (await (await stack.api(`/api/requests/${id}`)).json()) as Resource;
    return current.state === 'succeeded' || current.state === 'failed' ? current : undefined;
  });
}

const lastSeq = () => stack.sim.control.requests().at(-1)?.seq ?? 0;
const chatPosts = (since: number): RecordedRequest[] =>
  stack.sim.control.requests(since).filter((r) => r.method === 'POST' && r.path === '/v1.0/chats');

describe('real inputs, end to end', () => {
  it("sends a compact guest's #EXT# UPN to Graph exactly, and the chat holds that guest", async () => {
    // Prepare
    const since = lastSeq();

    // Act
    const created = await submit({
      chatType: 'group',
      topic: 'Welcome Ana',
      members: ['megan@contoso.com', 'lee@contoso.com', { user: GUEST, role: 'guest' }],
    });
    const done = await final(created.id);

    // Assess
    expect(done.state).toBe('succeeded');
    expect(done.members[2]).toEqual({ user: GUEST, role: 'guest' });
    const posts = chatPosts(since);
    expect(posts).toHaveLength(1);
    const sent = posts[0]!.body as { members: { 'user@odata.bind': string; roles: string[] }[] };
    expect(sent.members[2]).toEqual(member(GUEST_BIND, 'guest'));
    const chat = stack.sim.control.chats().chats.find((c) => c.id === done.chat?.id);
    expect(chat?.members.map((m) => m.userId)).toContain(guestId);
  });

  it("keeps a Graph-form body's binds as written (users('#EXT#') and users/<id>) and leaves a null topic out", async () => {
    // Prepare
    const since = lastSeq();
    const members = [
      member('https://graph.microsoft.com/v1.0/users/8b081ef6-4792-4def-b2c9-c363a1bf41d5'),
      member("https://graph.microsoft.com/v1.0/users('lee@contoso.com')"),
      member(GUEST_BIND, 'guest'),
    ];

    // Act
    const created = await submit({ chatType: 'group', topic: null, members });
    const done = await final(created.id);

    // Assess
    expect(done.state).toBe('succeeded');
    expect(chatPosts(since).map((r) => r.body)).toEqual([{ chatType: 'group', members }]);
  });

  it('finds the chat it made when the answer was lost, even listing by the guest, with #EXT# encoded in every path', async () => {
    // Prepare: Graph makes the chat, then the answer is replaced by a 503 (ambiguous: look before posting again)
    const since = lastSeq();
    stack.sim.control.addFault({
      match: { method: 'POST', pathPrefix: '/v1.0/chats' },
      count: 1,
      phase: 'after',
      fault: { type: 'status', status: 503, retryAfter: null },
    });

    // Act: the guest first, so a recovery that lists one member's chats lists the guest's
    const created = await submit({
      chatType: 'group',
      topic: 'Lost answer, guest first',
      members: [{ user: GUEST, role: 'guest' }, 'megan@contoso.com', 'lee@contoso.com'],
    });
    const done = await final(created.id);

    // Assess: one chat, and the UPN reached Graph whole wherever it was put in a URL (a path segment with # and @
    // percent-encoded; Entra matches UPNs without regard to case, so the case of a lookup is free)
    expect(done.state).toBe('succeeded');
    expect(chatPosts(since)).toHaveLength(1);
    const paths = stack.sim.control.requests(since).map((r) => r.path.toLowerCase());
    for (const path of paths) expect(path).not.toContain('#');
    const named = paths.filter((p) => decodeURIComponent(p.split('?')[0]!).includes(GUEST.toLowerCase()));
    expect(named.length).toBeGreaterThan(0);
    for (const path of named) expect(path).toContain(`/${encodeURIComponent(GUEST).toLowerCase()}`);
  });
});
