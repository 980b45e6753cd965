/**
 * The Graph adapter (SdkGraphChats) against the simulator over TLS: the real SDKs, no mocks.
 * What each Graph answer looks like once it is data, and the retry layers: the adapter never retries.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../shared/platform/config';
import { createCredential, GraphAnswer, SdkGraphChats } from '../../shared/graph/graph-client';
import { GraphCreateChatBody } from '../../shared/core/model';
import { startStack, Stack } from '../support/stack';

const MEMBER = '#microsoft.graph.aadUserConversationMember';
const bind = (user: string) => `https://graph.microsoft.com/v1.0/users('${user}')`;

function groupBody(topic: string, users = ['user1@contoso.com', 'user2@contoso.com', 'user3@contoso.com']) {
  return {
    chatType: 'group',
    topic,
    members: users.map((u) => ({ '@odata.type': MEMBER, roles: ['owner'], 'user@odata.bind': bind(u) })),
  } as GraphCreateChatBody;
}

const withApp = (topic: string): GraphCreateChatBody => ({
  ...groupBody(topic),
  installedApps: [
    {
      'teamsApp@odata.bind':
        'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/05F59CEC-A742-4A50-A62E-202A57E478A4',
    },
  ],
});

function graphFor(stack: Stack, env: Record<string, string> = {}, timeoutMs?: number): SdkGraphChats {
  const config = loadConfig({ ...stack.env, ...env });
  return new SdkGraphChats(createCredential(config.graph), config.graph, { timeoutMs });
}

function response(answer: GraphAnswer) {
  if (answer.kind !== 'response') throw new Error(`expected a response, got ${JSON.stringify(answer)}`);
  return answer;
}

describe('SdkGraphChats against the simulator', () => {
  let stack: Stack;
  let graph: SdkGraphChats;
  const posts = (since: number) =>
    stack.sim.control.requests(since).filter((r) => r.method === 'POST' && r.path === '/v1.0/chats');
  const lastSeq = () => stack.sim.control.requests().at(-1)?.seq ?? 0;

  beforeAll(async () => {
    stack = await startStack({ host: false, simulator: { tenantRps: 1000 } });
    graph = graphFor(stack);
  });
  afterAll(async () => {
    await stack?.stop();
  });
  afterEach(() => stack.sim.control.clearFaults());

  it('201: the chat with id, webUrl, createdDateTime, tenantId, and both request ids', async () => {
    const answer = response(await graph.createChat(groupBody('Adapter 201'), 'c0ffee00-0000-4000-8000-000000000001'));
    expect(answer.status).toBe(201);
    const chat = answer.body as Record<string, string>;
    expect(chat.id).toMatch(/@thread\.v2$/);
    expect(chat.webUrl).toMatch(/^https:\/\//);
    expect(chat.createdDateTime).toBeDefined();
    expect(chat.tenantId).toBe(stack.sim.tenantId);
    expect(answer.headers.requestId).toBeTruthy();
    expect(answer.headers.clientRequestId).toBe('c0ffee00-0000-4000-8000-000000000001');
  });

  it('no SDK RetryHandler: a 503 after Graph made the chat is one POST, answered as it came', async () => {
    const since = lastSeq();
    const before = stack.sim.control.chats().count;
    stack.sim.control.addFault({
      match: { method: 'POST', pathPrefix: '/v1.0/chats' },
      phase: 'after',
      fault: { type: 'status', status: 503, retryAfter: null },
    });
    const answer = response(await graph.createChat(groupBody('Adapter 503')));
    expect(answer.status).toBe(503);
    expect(posts(since)).toHaveLength(1);
    expect(stack.sim.control.chats().count).toBe(before + 1);
  });

  it('429 reaches the caller once, with a fractional Retry-After kept as sent', async () => {
    const since = lastSeq();
    stack.sim.control.addFault({
      match: { method: 'POST', pathPrefix: '/v1.0/chats' },
      fault: { type: 'status', status: 429, retryAfter: 2.128 },
    });
    const answer = response(await graph.createChat(groupBody('Adapter 429')));
    expect(answer.status).toBe(429);
    expect(answer.headers.retryAfter).toBe('2.128');
    expect(posts(since)).toHaveLength(1);
  });

  it('a POST answered after the client timeout is a network answer (timed out) while the chat exists', async () => {
    const quick = graphFor(stack, {}, 400);
    const before = stack.sim.control.chats().count;
    stack.sim.control.addFault({
      match: { method: 'POST', pathPrefix: '/v1.0/chats' },
      phase: 'after',
      fault: { type: 'delay', ms: 1500 },
    });
    const answer = await quick.createChat(groupBody('Adapter timeout'));
    expect(answer).toMatchObject({ kind: 'network', timedOut: true, code: 'Timeout' });
    expect(stack.sim.control.chats().count).toBe(before + 1);
  });

  it('a connection reset after the work is a network answer; the chat exists', async () => {
    const before = stack.sim.control.chats().count;
    stack.sim.control.addFault({
      match: { method: 'POST', pathPrefix: '/v1.0/chats' },
      phase: 'after',
      fault: { type: 'reset' },
    });
    const answer = await graph.createChat(groupBody('Adapter reset'));
    expect(answer).toMatchObject({ kind: 'network', timedOut: false, code: 'ConnectionReset' });
    expect(stack.sim.control.chats().count).toBe(before + 1);
  });

  it('400: Graph code, message and both request ids', async () => {
    const body = groupBody('Adapter 400');
    body.members[0]!.roles = ['member'];
    const answer = response(await graph.createChat(body));
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({
      error: { code: 'BadRequest', message: expect.stringContaining("'member' is not supported") },
    });
    expect(answer.headers.requestId).toBeTruthy();
    expect(answer.headers.clientRequestId).toBeTruthy();
  });

  it('a wrong secret is a token answer (invalid_client, not retryable) and Graph is never called', async () => {
    const since = lastSeq();
    const wrong = graphFor(stack, { GRAPH_CLIENT_SECRET: 'not-the-secret' });
    const answer = await wrong.createChat(groupBody('Adapter wrong secret'));
    expect(answer).toMatchObject({ kind: 'token', code: 'invalid_client', retryable: false });
    expect(posts(since)).toHaveLength(0);
  });

  it('a client certificate (GRAPH_CLIENT_CERTIFICATE_PATH) gets a token and creates the chat', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chat-cert-'));
    const certificatePath = join(dir, 'client.pem');
    writeFileSync(certificatePath, stack.sim.certificate.pem);
    const env = {
      ...stack.env,
      GRAPH_CLIENT_ID: stack.sim.certificate.clientId,
      GRAPH_CLIENT_CERTIFICATE_PATH: certificatePath,
    };
    delete (env as Record<string, string | undefined>).GRAPH_CLIENT_SECRET;
    const config = loadConfig(env);
    expect(config.graph.credential.kind).toBe('clientCertificate');
    const withCertificate = new SdkGraphChats(createCredential(config.graph), config.graph);
    const answer = response(await withCertificate.createChat(groupBody('Adapter certificate')));
    expect(answer.status).toBe(201);
  });

  it('an Entra outage (temporarily_unavailable) is a retryable token answer', async () => {
    const fresh = graphFor(stack);
    stack.sim.control.addFault({
      match: { method: 'POST', pathPrefix: `/${stack.sim.tenantId}/oauth2/v2.0/token` },
      count: 10,
      fault: { type: 'tokenError', error: 'temporarily_unavailable' },
    });
    const answer = await fresh.createChat(groupBody('Adapter token outage'));
    expect(answer).toMatchObject({ kind: 'token', retryable: true });
  });

  it('202: a relative Location that resolveLocation makes absolute; polls send Prefer: include-unknown-enum-members', async () => {
    const answer = response(await graph.createChat(withApp('Adapter 202')));
    expect(answer.status).toBe(202);
    const location = answer.headers.location!;
    expect(location).toMatch(/^\/chats\('[^']+'\)\/operations\('[^']+'\)$/);
    const absolute = graph.resolveLocation(location);
    expect(absolute).toBe(`${stack.sim.graphBaseUrl}/beta${location}`);

    const since = lastSeq();
    const op = response(await graph.getOperation(absolute));
    expect(op.status).toBe(200);
    expect(op.body).toMatchObject({ operationType: 'createChat' });
    const get = stack.sim.control.requests(since).find((r) => r.method === 'GET');
    expect(get?.headers.prefer).toBe('include-unknown-enum-members');
  });

  it('polls an operation under beta even when its location names v1.0 (operations exist in beta only)', async () => {
    const answer = response(await graph.createChat(withApp('Adapter v1.0 location')));
    const location = answer.headers.location!;
    // As a row written before operations moved to beta holds it, or as a Location that carried a version.
    const v1 = `${stack.sim.graphBaseUrl}/v1.0${location}`;
    expect(graph.resolveLocation(v1)).toBe(`${stack.sim.graphBaseUrl}/beta${location}`);
    expect(graph.resolveLocation(`/v1.0${location}`)).toBe(`${stack.sim.graphBaseUrl}/beta${location}`);
    const op = response(await graph.getOperation(v1));
    expect([op.status, (op.body as { operationType?: string }).operationType]).toEqual([200, 'createChat']);
  });

  it("listUserChats: one member's group chats since a time, with members, across pages", async () => {
    const user = 'user77@contoso.com';
    const others = ['user78@contoso.com', 'user79@contoso.com'];
    const old = response(await graph.createChat(groupBody('Listing old', [user, ...others])));
    await new Promise((r) => setTimeout(r, 20));
    const since = new Date();
    for (let i = 0; i < 53; i += 1) {
      response(await graph.createChat(groupBody(`Listing ${i}`, [user, ...others])));
    }
    const listed = await graph.listUserChats(user, since);
    if (!listed.ok) throw new Error(JSON.stringify(listed.answer));
    expect(listed.chats).toHaveLength(53);
    expect(listed.chats.map((c) => c.id)).not.toContain((old.body as { id: string }).id);
    expect(listed.chats[0]).toMatchObject({ chatType: 'group', topic: expect.stringMatching(/^Listing \d+$/) });
    expect(listed.chats[0]!.members).toHaveLength(3);
    // Graph lists members by object id, and their mail (not the UPN they were named by).
    expect(listed.chats[0]!.members.map((m) => [m.userId, m.email])).toEqual([
      ['5e000000-0000-4000-8000-000000000077', 'user77.mail@contoso.com'],
      ['5e000000-0000-4000-8000-000000000078', 'user78.mail@contoso.com'],
      ['5e000000-0000-4000-8000-000000000079', 'user79.mail@contoso.com'],
    ]);
    expect(listed).toMatchObject({ complete: true, filterRefused: false });

    // The same listing when Graph refuses the createdDateTime filter: without one, filtered here.
    stack.sim.control.configure({ createdDateTimeFilter: 'refused' });
    try {
      const start = lastSeq();
      const unfiltered = await graph.listUserChats(user, since);
      if (!unfiltered.ok) throw new Error(JSON.stringify(unfiltered.answer));
      expect(unfiltered).toMatchObject({ complete: true, filterRefused: true });
      expect(unfiltered.chats.map((c) => c.id)).toEqual(listed.chats.map((c) => c.id));
      const gets = stack.sim.control.requests(start).map((r) => [r.path.includes('filter'), r.status]);
      expect(gets).toEqual([
        [true, 400],
        [false, 200],
        [false, 200],
      ]);
    } finally {
      stack.sim.control.configure({ createdDateTimeFilter: 'accepted' });
    }
  });

  it('lookup reads failing transiently are tried again in the call (twice at most); a 429 is not', async () => {
    // Prepare: a 503 then a reset on the listing; three 502s on a user read; a 429 on another user read.
    const user = 'user81@contoso.com';
    response(await graph.createChat(groupBody('Retried listing', [user, 'user82@contoso.com'])));
    const since = new Date(Date.now() - 60_000);
    stack.sim.control.addFault({
      match: { method: 'GET', pathPrefix: '/v1.0/users/user81' },
      fault: { type: 'status', status: 503 },
    });
    stack.sim.control.addFault({
      match: { method: 'GET', pathPrefix: '/v1.0/users/user81' },
      fault: { type: 'reset' },
    });
    const start = lastSeq();

    // Act
    const listed = await graph.listUserChats(user, since);
    const statuses = stack.sim.control.requests(start).map((r) => r.status);
    stack.sim.control.addFault({
      match: { method: 'GET', pathPrefix: '/v1.0/users/user83' },
      count: 3,
      fault: { type: 'status', status: 502 },
    });
    const down = await graph.getUserId('user83@contoso.com');
    stack.sim.control.addFault({
      match: { method: 'GET', pathPrefix: '/v1.0/users/user84' },
      count: 3,
      fault: { type: 'status', status: 429 },
    });
    const refusedAt = lastSeq();
    const refused = await graph.getUserId('user84@contoso.com');

    // Assess
    expect(listed).toMatchObject({ ok: true, complete: true });
    expect(statuses.filter((status) => status === 503 || status === 200)).toEqual([503, 200]);
    expect(down).toMatchObject({ ok: false, notFound: false, answer: { status: 502 } });
    expect(refused).toMatchObject({ ok: false, answer: { status: 429 } });
    expect(stack.sim.control.requests(refusedAt)).toHaveLength(1);
  });

  it('getUserId: the object id for a UPN (a guest #EXT# one too), notFound for a user the directory lacks', async () => {
    expect(await graph.getUserId('ana@contoso.onmicrosoft.com')).toEqual({
      ok: true,
      id: 'a7f3c2e1-5b4d-4c6a-9e8f-1a2b3c4d5e6f',
    });
    expect(await graph.getUserId('guest3_fabrikam.com#EXT#@contoso.onmicrosoft.com')).toEqual({
      ok: true,
      id: '5e000003-0000-4000-8000-000000000003',
    });
    const missing = await graph.getUserId('nobody@contoso.com');
    expect(missing).toMatchObject({ ok: false, notFound: true, answer: { status: 404 } });
    const paths = stack.sim.control
      .requests()
      .slice(-3)
      .map((r) => r.path);
    expect(paths[1]).toBe('/v1.0/users/guest3_fabrikam.com%23EXT%23%40contoso.onmicrosoft.com?$select=id');
  });

  it('getChat: the chat with its webUrl, or 404', async () => {
    const made = response(await graph.createChat(groupBody('Adapter getChat')));
    const id = (made.body as { id: string }).id;
    const got = response(await graph.getChat(id));
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id, webUrl: expect.stringMatching(/^https:\/\//) });
    expect(response(await graph.getChat('19:missing@thread.v2')).status).toBe(404);
  });
});
