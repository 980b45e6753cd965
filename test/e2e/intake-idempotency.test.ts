/**
 * Intake through HTTP with the whole pipeline running (Azurite, simulator, local host with the
 * worker and the timer): every documented body is accepted verbatim, the compact form reaches Graph
 * as the canonical body, and each idempotency key makes a request happen once.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { eventually, startStack, Stack } from '../support/stack';
import { StoredRows } from '../support/stored-rows';

const FIXTURES = [1, 2, 3, 4, 5, 6, 7].map((n) => `003-example-${n}`).concat([1, 2, 3].map((n) => `002-example-${n}`));
const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'graph-examples', `${name}.json`), 'utf8'));

interface Resource {
  id: string;
  state: string;
  externalId?: string;
  topic?: string;
  chat?: { id: string };
  error?: { code: string; message: string };
}

interface ProblemBody {
  status: number;
  title: string;
  detail?: string;
  requestId?: string;
}

const MEMBER_TYPE = '#microsoft.graph.aadUserConversationMember';

/** A valid compact body with members the simulator's directory knows (user<N>@contoso.com). */
function compact(topic: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    chatType: 'group',
    topic,
    members: ['user1@contoso.com', 'user2@contoso.com', 'user3@contoso.com'],
    ...extra,
  };
}

describe('intake through HTTP, with the pipeline running', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const post = (json: unknown, headers: Record<string, string> = {}) =>
    stack.api('/api/requests', { method: 'POST', json, headers });

  async function resource(id: string): Promise<Resource> {
    const answer = await stack.api(`/api/requests/${id}`);
    expect(answer.status).toBe(200);
    return (await answer.json()) as Resource;
  }

  const settled = (id: string) =>
    eventually(async () => {
      const current = await resource(id);
      return current.state === 'succeeded' || current.state === 'failed' ? current : undefined;
    });

  /** Request rows whose stored document mentions `text` (the table is small in a test). */
  async function rowsMentioning(text: string): Promise<string[]> {
    const rows = await new StoredRows(stack.azurite.connectionString).all();
    return rows.filter((row) => JSON.stringify(row.request).includes(text)).map((row) => row.id);
  }

  const chatsTitled = (topic: string) => stack.sim.control.chats().chats.filter((c) => c.topic === topic);

  describe('bodies', () => {
    it.each(FIXTURES)('accepts %s verbatim: 202, Location, a queued resource', async (name) => {
      // Act
      const answer = await post(fixture(name));

      // Assess
      expect(answer.status).toBe(202);
      const created = (await answer.json()) as Resource;
      expect(answer.headers.get('location')).toBe(`/api/requests/${created.id}`);
      expect(created.state).toBe('queued');
    });

    it("sends the compact form to Graph as exactly the canonical body, a ' in a UPN written ''", async () => {
      // Prepare: a UPN with an apostrophe that the directory knows, a federated member and an app
      stack.sim.control.upsertUsers({ userPrincipalName: "o'brien@contoso.com", displayName: "Siobhan O'Brien" });
      const since = stack.sim.control.requests().at(-1)?.seq ?? 0;
      const body = {
        externalId: `hr-${randomUUID()}`,
        topic: 'Welcome Siobhan',
        apps: [{ teamsAppId: '05F59CEC-A742-4A50-A62E-202A57E478A4', rscPermissions: ['ChatMessage.Read.Chat'] }],
        members: [
          "o'brien@contoso.com",
          { user: 'megan@contoso.com', role: 'owner' },
          { user: '8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca', tenantId: '4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1' },
        ],
        chatType: 'group',
      };

      // Act
      const answer = await post(body);
      const { id } = (await answer.json()) as Resource;
      const done = await settled(id);

      // Assess: the canonical Graph body, key order included, and nothing of the service fields
      expect(answer.status).toBe(202);
      const expected = {
        chatType: 'group',
        topic: 'Welcome Siobhan',
        members: [
          {
            '@odata.type': MEMBER_TYPE,
            roles: ['owner'],
            'user@odata.bind': "https://graph.microsoft.com/v1.0/users('o''brien@contoso.com')",
          },
          {
            '@odata.type': MEMBER_TYPE,
            roles: ['owner'],
            'user@odata.bind': "https://graph.microsoft.com/v1.0/users('megan@contoso.com')",
          },
          {
            '@odata.type': MEMBER_TYPE,
            roles: ['owner'],
            'user@odata.bind': "https://graph.microsoft.com/v1.0/users('8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca')",
            tenantId: '4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1',
          },
        ],
        installedApps: [
          {
            'teamsApp@odata.bind':
              'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/05F59CEC-A742-4A50-A62E-202A57E478A4',
            consentedPermissionSet: {
              resourceSpecificPermissions: [
                { permissionValue: 'ChatMessage.Read.Chat', permissionType: 'application' },
              ],
            },
          },
        ],
      };
      const posts = stack.sim.control
        .requests(since)
        .filter((r) => r.method === 'POST' && r.path === '/v1.0/chats' && JSON.stringify(r.body).includes('Siobhan'));
      expect(posts).toHaveLength(1);
      expect(JSON.stringify(posts[0]!.body)).toBe(JSON.stringify(expected));
      expect(done.state).toBe('succeeded');
      // The simulator resolved o'brien from the escaped key, so the chat has that user.
      const chat = chatsTitled('Welcome Siobhan')[0];
      const obrien = stack.sim.control.users().find((u) => u.userPrincipalName === "o'brien@contoso.com");
      expect(chat?.members.map((m) => m.userId)).toContain(obrien!.id);
    });
  });

  describe.each([
    ['Idempotency-Key', (key: string) => ({ headers: { 'idempotency-key': key }, extra: {} })],
    ['externalId', (key: string) => ({ headers: {}, extra: { externalId: key } })],
    ['webhook-id', (key: string) => ({ headers: { 'webhook-id': key }, extra: {} })],
  ])('%s as the idempotency key', (source, keyed) => {
    it('replays the same payload: 200, Idempotent-Replayed, the same resource', async () => {
      // Prepare
      const key = `${source}-${randomUUID()}`;
      const topic = `Replay ${key}`;
      const { headers, extra } = keyed(key);

      // Act
      const first = await post(compact(topic, extra), headers);
      // The same meaning written differently: other key order, the members reordered and recased.
      const again = await post(
        {
          members: ['USER3@contoso.com', 'user1@contoso.com', 'user2@contoso.com'],
          ...extra,
          topic,
          chatType: 'group',
        },
        headers,
      );

      // Assess
      expect(first.status).toBe(202);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      const created = (await first.json()) as Resource;
      expect(again.status).toBe(200);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.headers.get('location')).toBe(`/api/requests/${created.id}`);
      const replayed = (await again.json()) as Resource;
      expect(replayed.id).toBe(created.id);
      await settled(created.id);
      expect(await rowsMentioning(topic)).toEqual([created.id]);
      expect(chatsTitled(topic)).toHaveLength(1);
    });

    it('answers 422 problem for a different payload under the same key, creating nothing', async () => {
      // Prepare
      const key = `${source}-${randomUUID()}`;
      const topic = `Mismatch ${key}`;
      const { headers, extra } = keyed(key);
      const first = await post(compact(topic, extra), headers);
      const { id } = (await first.json()) as Resource;

      // Act
      const other = await post(compact(`${topic} changed`, extra), headers);

      // Assess
      expect(other.status).toBe(422);
      expect(other.headers.get('content-type')).toBe('application/problem+json');
      const problem = (await other.json()) as ProblemBody;
      expect(problem.status).toBe(422);
      expect(problem.requestId).toBe(id);
      expect(problem.detail).toContain(source);
      expect(await rowsMentioning(`${topic} changed`)).toEqual([]);
    });
  });

  it('Idempotency-Key wins over externalId, which wins over webhook-id', async () => {
    // Prepare
    const externalId = `hr-${randomUUID()}`;
    const topic = `Precedence ${externalId}`;
    const first = await post(compact(topic, { externalId }), { 'idempotency-key': `k-${externalId}` });
    const { id } = (await first.json()) as Resource;

    // Act: the same Idempotency-Key with another webhook-id is a replay ...
    const sameHeader = await post(compact(topic, { externalId }), {
      'idempotency-key': `k-${externalId}`,
      'webhook-id': `msg-${randomUUID()}`,
    });
    // ... and with a different payload, the 422 names the Idempotency-Key.
    const changed = await post(compact(`${topic} 2`, { externalId }), { 'idempotency-key': `k-${externalId}` });

    // Assess
    expect(first.status).toBe(202);
    expect(sameHeader.status).toBe(200);
    expect(((await sameHeader.json()) as Resource).id).toBe(id);
    expect(changed.status).toBe(422);
    expect(((await changed.json()) as ProblemBody).detail).toContain('Idempotency-Key');
  });

  it('an externalId names one request even when each post carries its own Idempotency-Key', async () => {
    // Prepare
    const externalId = `hr-${randomUUID()}`;
    const topic = `One per externalId ${externalId}`;
    const first = await post(compact(topic, { externalId }), { 'idempotency-key': randomUUID() });
    const { id } = (await first.json()) as Resource;

    // Act
    const sameMeaning = await post(compact(topic, { externalId }), { 'idempotency-key': randomUUID() });
    const otherMeaning = await post(compact(`${topic} changed`, { externalId }), { 'idempotency-key': randomUUID() });
    const listed = await stack.api(`/api/requests?externalId=${encodeURIComponent(externalId)}`);

    // Assess
    expect(first.status).toBe(202);
    expect(sameMeaning.status).toBe(200);
    expect(((await sameMeaning.json()) as Resource).id).toBe(id);
    expect(otherMeaning.status).toBe(422);
    expect(((await otherMeaning.json()) as ProblemBody).detail).toContain('externalId');
    expect(((await listed.json()) as { value: Resource[] }).value.map((r) => r.id)).toEqual([id]);
    await settled(id);
    expect(await rowsMentioning(topic)).toEqual([id]);
  });

  it('50 concurrent posts with one key: one request row, one chat, 1 × 202 and 49 × 200 replays of it', async () => {
    // Prepare
    const key = randomUUID();
    const topic = `Concurrent ${key}`;
    const body = compact(topic);

    // Act
    const answers = await Promise.all(Array.from({ length: 50 }, () => post(body, { 'idempotency-key': key })));

    // Assess
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(49);
    const ids = new Set(await Promise.all(answers.map(async (a) => ((await a.json()) as Resource).id)));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    expect(await rowsMentioning(topic)).toEqual([id]);
    const done = await settled(id!);
    expect(done.state).toBe('succeeded');
    expect(chatsTitled(topic)).toHaveLength(1);
  });
});
