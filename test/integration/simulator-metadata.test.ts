/**
 * Every property the simulator answers with exists in Graph's own metadata (the extract in
 * test/fixtures/graph-metadata): chats (created, read, listed with members) against v1.0, operations
 * against beta, where alone they exist. A property the simulator invents would let the service depend on
 * something real Graph never sends.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, fetch } from 'undici';
import { GraphSimulator, startGraphSimulator } from '../../dev/simulator';
import { conformanceProblems, MetadataSchema, parseMetadata } from '../support/graph-metadata';

const metadata = (version: 'v1.0' | 'beta'): MetadataSchema =>
  parseMetadata(readFileSync(join(__dirname, '..', 'fixtures', 'graph-metadata', `${version}.xml`), 'utf8'));
const v1 = metadata('v1.0');
const beta = metadata('beta');

const MEMBER = '#microsoft.graph.aadUserConversationMember';
const bind = (user: string) => `https://graph.microsoft.com/v1.0/users('${user}')`;
const APP = 'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/8e55a7b1-6766-4f0a-8610-ecacfe3d569a';

let sim: GraphSimulator;
let dispatcher: Agent;
let token: string;

beforeAll(async () => {
  sim = await startGraphSimulator({ quiet: true, tenantRps: 1000 });
  dispatcher = new Agent({ connect: { ca: sim.ca } });
  token = await tokenFor(sim);
});
afterAll(async () => {
  await dispatcher?.close();
  await sim?.stop();
});

/** A client-credentials token from the simulator's Entra endpoint. */
async function tokenFor(s: GraphSimulator): Promise<string> {
  const reply = await fetch(`${s.authorityHost}/${s.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    dispatcher,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: s.clientId,
      client_secret: s.clientSecret,
      scope: 'https://graph.microsoft.com/.default',
    }).toString(),
  });
  return ((await reply.json()) as { access_token: string }).access_token;
}

async function graph(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const reply = await fetch(`${sim.graphBaseUrl}${path}`, {
    method,
    dispatcher,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await reply.text();
  return { status: reply.status, location: reply.headers.get('location'), body: text ? JSON.parse(text) : undefined };
}

const members = (...users: string[]) =>
  users.map((u) => ({ '@odata.type': MEMBER, roles: ['owner'], 'user@odata.bind': bind(u) }));

describe('what the simulator answers exists in Graph metadata', () => {
  it('a created chat, one-on-one and group (201), and GET /chats/{id}', async () => {
    const oneOnOne = await graph('POST', '/v1.0/chats', {
      chatType: 'oneOnOne',
      members: members('alex@contoso.com', 'jacob@contoso.com'),
    });
    const group = await graph('POST', '/v1.0/chats', {
      chatType: 'group',
      topic: 'Metadata',
      members: members('alex@contoso.com', 'jacob@contoso.com', 'user1@contoso.com'),
    });
    expect([oneOnOne.status, group.status]).toEqual([201, 201]);
    for (const chat of [oneOnOne.body, group.body]) {
      expect(conformanceProblems(v1, chat, 'chat', '', { response: true })).toEqual([]);
    }
    const read = await graph('GET', `/v1.0/chats/${encodeURIComponent(group.body.id)}`);
    expect(read.status).toBe(200);
    expect(conformanceProblems(v1, read.body, 'chat', '', { response: true })).toEqual([]);
  });

  it("a member's chats with $expand=members: the chats and each aadUserConversationMember", async () => {
    await graph('POST', '/v1.0/chats', {
      chatType: 'group',
      topic: 'Listed',
      members: members('alex@contoso.com', 'jacob@contoso.com', 'user2@contoso.com'),
    });
    const listed = await graph('GET', "/v1.0/users/alex@contoso.com/chats?$expand=members&$filter=chatType eq 'group'");
    expect(listed.status).toBe(200);
    const chats = listed.body.value as Record<string, unknown>[];
    expect(chats.length).toBeGreaterThan(0);
    for (const [i, chat] of chats.entries()) {
      expect((chat.members as unknown[]).length).toBeGreaterThan(0);
      expect(conformanceProblems(v1, chat, 'chat', `value[${i}]`, { response: true })).toEqual([]);
    }
  });

  it.each([
    ['with Prefer: include-unknown-enum-members', { prefer: 'include-unknown-enum-members' }, 'createChat'],
    ['without it', {}, 'unknownFutureValue'],
  ])('an operation under beta (202), %s, in every status it passes through', async (_name, headers, type) => {
    const accepted = await graph('POST', '/v1.0/chats', {
      chatType: 'group',
      topic: 'Operation',
      members: members('alex@contoso.com', 'jacob@contoso.com'),
      installedApps: [{ 'teamsApp@odata.bind': APP }],
    });
    expect(accepted.status).toBe(202);
    for (let i = 0; i < 3; i += 1) {
      const op = await graph('GET', `/beta${accepted.location}`, undefined, headers);
      expect(op.status).toBe(200);
      expect(op.body.operationType).toBe(type);
      expect(conformanceProblems(beta, op.body, 'teamsAsyncOperation', '', { response: true })).toEqual([]);
    }
  });

  it('a failed operation, with its error', async () => {
    const accepted = await graph('POST', '/v1.0/chats', {
      chatType: 'group',
      topic: 'Failing',
      members: members('alex@contoso.com', 'jacob@contoso.com'),
      installedApps: [{ 'teamsApp@odata.bind': APP }],
    });
    const opId = /operations\('([^']+)'\)/.exec(accepted.location ?? '')![1]!;
    sim.control.setOperationFate(opId, { fate: 'failed', error: { code: 'Failed', message: 'No' } });
    let op = await graph('GET', `/beta${accepted.location}`);
    for (let i = 0; i < 3 && op.body.status !== 'failed'; i += 1) op = await graph('GET', `/beta${accepted.location}`);
    expect(op.body).toMatchObject({ status: 'failed', error: { code: 'Failed', message: 'No' } });
    expect(conformanceProblems(beta, op.body, 'teamsAsyncOperation', '', { response: true })).toEqual([]);
  });
});
