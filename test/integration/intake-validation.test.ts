/**
 * Issue 4's input rules through HTTP on the local host (real Azurite, real function files): every
 * bad body is a 400 application/problem+json naming the field; media type, size and syntax have
 * their own answers. One test per rule lives in test/unit/request-schema.test.ts; this is the
 * representative table through the front door, plus what only HTTP can show.
 */
import { startStack, Stack } from '../support/stack';

interface FieldError {
  path: string;
  message: string;
}

interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldError[];
  position?: { line: number; column: number; offset: number };
}

const MiB = 1024 * 1024;

const GRAPH_MEMBER = (user: string, role = 'owner') => ({
  '@odata.type': '#microsoft.graph.aadUserConversationMember',
  roles: [role],
  'user@odata.bind': `https://graph.microsoft.com/v1.0/users('${user.replace(/'/g, "''")}')`,
});

const group = (extra: Record<string, unknown> = {}) => ({
  chatType: 'group',
  topic: 'Welcome Ana',
  members: ['ana@contoso.com', 'mgr@contoso.com', 'it@contoso.com'],
  ...extra,
});

const graphGroup = (extra: Record<string, unknown> = {}) => ({
  chatType: 'group',
  members: [GRAPH_MEMBER('ana@contoso.com'), GRAPH_MEMBER('mgr@contoso.com')],
  ...extra,
});

/** Reads a problem answer and checks what every problem answer must be. */
async function problemOf(answer: Response, status: number): Promise<ProblemBody> {
  const text = await answer.text();
  expect({ status: answer.status, text }).toEqual({ status, text: expect.any(String) });
  expect(answer.headers.get('content-type')).toBe('application/problem+json');
  const body = JSON.parse(text) as ProblemBody;
  expect(body.status).toBe(status);
  expect(typeof body.type).toBe('string');
  expect(typeof body.title).toBe('string');
  return body;
}

describe('POST /api/requests: bad input through HTTP', () => {
  let stack: Stack;
  beforeAll(async () => {
    // Only intake is under test: the worker stays off so accepted bodies are not sent on to Graph. Callbacks
    // as deployed: http to localhost is not allowed (the local run allows it).
    stack = await startStack({ env: { 'AzureWebJobs.worker.Disabled': 'true', ALLOW_LOCALHOST_CALLBACKS: 'false' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const post = (init: RequestInit & { json?: unknown }) => stack.api('/api/requests', { method: 'POST', ...init });

  const yearAhead = () => new Date(Date.now() + 400 * 24 * 3600 * 1000).toISOString();

  // [rule, body, the path that must be named, what its message must say]
  const rules: [string, () => unknown, string, RegExp][] = [
    [
      'chatType meeting',
      () => group({ chatType: 'meeting' }),
      'chatType',
      /meeting chats are created by Teams meetings/,
    ],
    ['chatType other than oneOnOne/group', () => group({ chatType: 'channel' }), 'chatType', /"oneOnOne" or "group"/],
    [
      'oneOnOne with 3 members',
      () => ({ chatType: 'oneOnOne', members: ['a@x.com', 'b@x.com', 'c@x.com'] }),
      'members',
      /exactly 2 distinct members; got 3/,
    ],
    [
      'oneOnOne with the same user twice',
      () => ({ chatType: 'oneOnOne', members: ['a@x.com', 'A@X.com'] }),
      'members',
      /exactly 2 distinct members; got 1/,
    ],
    [
      'a topic on oneOnOne',
      () => ({ chatType: 'oneOnOne', topic: 'Hi', members: ['a@x.com', 'b@x.com'] }),
      'topic',
      /not allowed for 1-on-1 chats/,
    ],
    ['a topic over 250 characters', () => group({ topic: 'x'.repeat(251) }), 'topic', /251 characters; at most 250/],
    ['a topic with ":"', () => group({ topic: 'Re: onboarding' }), 'topic', /must not contain ":"/],
    [
      'the same user twice',
      () => group({ members: ['ana@contoso.com', 'mgr@contoso.com', { user: 'ANA@contoso.com', role: 'guest' }] }),
      'members[2]',
      /same user as members\[0\]/,
    ],
    [
      'more than 200 members (Teams adds at most 200 at a time, creation included)',
      () => ({ chatType: 'group', members: Array.from({ length: 201 }, (_, i) => `u${i}@x.com`) }),
      'members',
      /at most 200 members.*at a time.*got 201/,
    ],
    [
      "a federated member (another tenant than GRAPH_TENANT_ID's) as guest",
      () =>
        group({
          members: [
            'a@x.com',
            { user: 'b@fabrikam.com', tenantId: '4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1', role: 'guest' },
          ],
        }),
      'members[1].role',
      /another tenant.*GRAPH_TENANT_ID.*"owner"/,
    ],
    [
      "a bind to another cloud's Graph than GRAPH_BASE_URL's",
      () =>
        graphGroup({
          members: [
            { ...GRAPH_MEMBER('a@x.com'), 'user@odata.bind': "https://graph.microsoft.us/v1.0/users('a@x.com')" },
            GRAPH_MEMBER('b@x.com'),
          ],
        }),
      'members[0]["user@odata.bind"]',
      /graph\.microsoft\.us.*GRAPH_BASE_URL/,
    ],
    [
      'a compact role other than owner/guest',
      () => group({ members: ['a@x.com', { user: 'b@x.com', role: 'member' }] }),
      'members[1].role',
      /"member" is not supported/,
    ],
    [
      'a Graph role other than owner/guest',
      () => graphGroup({ members: [GRAPH_MEMBER('a@x.com', 'admin'), GRAPH_MEMBER('b@x.com')] }),
      'members[0].roles[0]',
      /"admin" is not supported/,
    ],
    [
      'a missing @odata.type',
      () =>
        graphGroup({
          members: [
            { roles: ['owner'], 'user@odata.bind': GRAPH_MEMBER('a@x.com')['user@odata.bind'] },
            GRAPH_MEMBER('b@x.com'),
          ],
        }),
      'members[0]["@odata.type"]',
      /@odata.type is required/,
    ],
    [
      'a wrong @odata.type',
      () =>
        graphGroup({
          members: [
            { ...GRAPH_MEMBER('a@x.com'), '@odata.type': '#microsoft.graph.conversationMember' },
            GRAPH_MEMBER('b@x.com'),
          ],
        }),
      'members[0]["@odata.type"]',
      /must be "#microsoft.graph.aadUserConversationMember"/,
    ],
    [
      'a bind that is not a users(…) URL',
      () =>
        graphGroup({
          members: [
            { ...GRAPH_MEMBER('a@x.com'), 'user@odata.bind': "https://evil.example/v1.0/users('a@x.com')" },
            GRAPH_MEMBER('b@x.com'),
          ],
        }),
      'members[0]["user@odata.bind"]',
      /users\('<object id or UPN>'\)/,
    ],
    [
      "a bind whose quote ends the key early (users('o'brien'))",
      () =>
        graphGroup({
          members: [
            {
              ...GRAPH_MEMBER('a@x.com'),
              'user@odata.bind': "https://graph.microsoft.com/v1.0/users('o'brien@x.com')",
            },
            GRAPH_MEMBER('b@x.com'),
          ],
        }),
      'members[0]["user@odata.bind"]',
      /written as ''/,
    ],
    ['an empty user', () => group({ members: ['', 'b@x.com'] }), 'members[0]', /user is empty/],
    ['a user with "/"', () => group({ members: ['a/../b@x.com', 'b@x.com'] }), 'members[0]', /contains "\/"/],
    ['a user with "?"', () => group({ members: [{ user: 'a?$x=1' }, 'b@x.com'] }), 'members[0].user', /contains "\?"/],
    [
      'a user with a right-to-left override',
      () => group({ members: ['ana\u202Emoc.x@x.com', 'b@x.com'] }),
      'members[0]',
      /invisible formatting character U\+202E/,
    ],
    ['a user with a percent-escape', () => group({ members: ['ana%40x.com', 'b@x.com'] }), 'members[0]', /"%40"/],
    ['a user with whitespace', () => group({ members: ['a b@x.com', 'b@x.com'] }), 'members[0]', /contains a space/],
    [
      'a user with a control character',
      () => group({ members: ['a\u0001b@x.com', 'b@x.com'] }),
      'members[0]',
      /U\+0001/,
    ],
    [
      'a tenantId that is not a GUID',
      () => group({ members: ['a@x.com', { user: 'b@x.com', tenantId: 'fabrikam.com' }] }),
      'members[1].tenantId',
      /tenantId must be a GUID/,
    ],
    [
      'more than one app',
      () => group({ apps: [{ teamsAppId: 'a' }, { teamsAppId: 'b' }] }),
      'apps',
      /At most 1 app.*got 2/,
    ],
    [
      'an app bind that is not an appCatalogs teamsApps URL',
      () => graphGroup({ installedApps: [{ 'teamsApp@odata.bind': 'https://graph.microsoft.com/v1.0/teamsApps/a' }] }),
      'installedApps[0]["teamsApp@odata.bind"]',
      /appCatalogs\/teamsApps\/<app id>/,
    ],
    [
      'an RSC permissionType other than application/delegated',
      () =>
        graphGroup({
          installedApps: [
            {
              'teamsApp@odata.bind': 'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/a',
              consentedPermissionSet: {
                resourceSpecificPermissions: [{ permissionValue: 'ChatMessage.Read.Chat', permissionType: 'admin' }],
              },
            },
          ],
        }),
      'installedApps[0].consentedPermissionSet.resourceSpecificPermissions[0].permissionType',
      /"admin" is not supported: use "application" or "delegated"/,
    ],
    ['notBefore not an ISO time', () => group({ notBefore: 'tomorrow' }), 'notBefore', /ISO 8601 date-time/],
    [
      'notBefore more than a year ahead',
      () => group({ notBefore: yearAhead() }),
      'notBefore',
      /at most one year ahead/,
    ],
    ['callbackUrl not https', () => group({ callbackUrl: 'http://hooks.contoso.com/x' }), 'callbackUrl', /https:\/\//],
    ['externalId over 128 characters', () => group({ externalId: 'x'.repeat(129) }), 'externalId', /it has 129/],
    ['an unknown top-level field', () => group({ priority: 'high' }), 'priority', /Unknown field "priority"/],
    [
      'an unknown field on a Graph member',
      () => graphGroup({ members: [{ ...GRAPH_MEMBER('a@x.com'), displayName: 'A' }, GRAPH_MEMBER('b@x.com')] }),
      'members[0].displayName',
      /Unknown field "displayName"/,
    ],
    [
      'an unknown field on a compact app',
      () => group({ apps: [{ teamsAppId: 'a', version: '1' }] }),
      'apps[0].version',
      /Unknown field "version"/,
    ],
    ['a body that is an array', () => [group()], '', /must be a JSON object/],
  ];

  it.each(rules)('400 for %s, naming the field', async (_rule, body, path, message) => {
    // Act
    const answer = await post({ json: body() });

    // Assess
    const problem = await problemOf(answer, 400);
    expect(problem.type).toBe('https://chat-provisioner.dev/problems/validation');
    const at = (problem.errors ?? []).filter((e) => e.path === path);
    expect({ path, messages: at.map((e) => e.message) }).toEqual({
      path,
      messages: expect.arrayContaining([expect.stringMatching(message)]),
    });
  });

  it.each([
    [
      'at the top level',
      '{"chatType":"group","members":["a@x.com","b@x.com"],"__proto__":{"polluted":true}}',
      '__proto__',
    ],
    [
      'in a member',
      '{"chatType":"group","members":["a@x.com",{"user":"b@x.com","__proto__":{"polluted":true}}]}',
      'members[1].__proto__',
    ],
  ])('a "__proto__" field %s is an unknown field, and pollutes nothing', async (_where, text, path) => {
    // Act
    const answer = await post({ body: text, headers: { 'content-type': 'application/json' } });

    // Assess
    const problem = await problemOf(answer, 400);
    expect(problem.errors!.map((e) => e.path)).toContain(path);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await post({ json: group() })).status).toBe(202);
  });

  it('gives an http callbackUrl to a remote host one error, not a second about localhost', async () => {
    // Act
    const problem = await problemOf(await post({ json: group({ callbackUrl: 'http://insecure.example.com' }) }), 400);

    // Assess
    expect(problem.errors).toEqual([{ path: 'callbackUrl', message: expect.stringMatching(/https:\/\/.*"http"/) }]);
  });

  it('reports several problems in one body, every one of them', async () => {
    // Prepare
    const body = {
      chatType: 'oneOnOne',
      topic: 'Hello: world',
      externalId: '',
      notBefore: 'soon',
      callbackUrl: 'ftp://x',
      color: 'blue',
      members: ['a@x.com', { user: 'A@x.com', role: 'admin', tenantId: 'nope' }, 'c d@x.com', 'e@x.com'],
      apps: [{ teamsAppId: 'a' }, { teamsAppId: 'b', rscPermissions: [{ permissionValue: 'P', permissionType: 'x' }] }],
    };

    // Act
    const problem = await problemOf(await post({ json: body }), 400);

    // Assess
    const paths = new Set(problem.errors!.map((e) => e.path));
    for (const path of [
      'topic',
      'externalId',
      'notBefore',
      'callbackUrl',
      'color',
      'members',
      'members[1]',
      'members[1].role',
      'members[1].tenantId',
      'members[2]',
      'apps',
      'apps[1].rscPermissions[0].permissionType',
    ]) {
      expect({ path, found: paths.has(path) }).toEqual({ path, found: true });
    }
    expect(problem.detail).toMatch(/\d+ problems were found/);
    for (const error of problem.errors!) expect(error.message.length).toBeGreaterThan(10);
  });

  it('caps a flood of problems and says how many more there are', async () => {
    // Act
    const problem = await problemOf(
      await post({ json: { chatType: 'group', members: Array.from({ length: 250 }, () => 42) } }),
      400,
    );

    // Assess
    expect(problem.errors).toHaveLength(101);
    // 250 members of the wrong type, and one more for a chat of over 200 members
    expect(problem.errors!.at(-1)).toEqual({ path: '', message: expect.stringMatching(/151 more problems/) });
  });

  it('reports a bad Idempotency-Key header together with the body problems', async () => {
    // Act
    const problem = await problemOf(
      await post({ json: group({ topic: 'a:b' }), headers: { 'idempotency-key': 'k'.repeat(257) } }),
      400,
    );

    // Assess
    const paths = problem.errors!.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['topic', 'headers.Idempotency-Key']));
  });

  it('400 naming line, column and byte offset when the body is not JSON', async () => {
    // Prepare: a trailing comma on line 3
    const text = '{\n  "chatType": "group",\n  "members": ["a@x.com", "b@x.com"],\n}';

    // Act
    const problem = await problemOf(await post({ body: text, headers: { 'content-type': 'application/json' } }), 400);

    // Assess
    expect(problem.position).toEqual({ line: 4, column: 1, offset: text.length - 1 });
    expect(problem.detail).toMatch(/line 4, column 1/);
    expect(problem.errors).toEqual([{ path: '', message: expect.stringMatching(/line 4, column 1/) }]);
  });

  it('400 for an empty body and for bytes that are not UTF-8', async () => {
    // Act
    const empty = await problemOf(await post({ body: '', headers: { 'content-type': 'application/json' } }), 400);
    const latin1 = await problemOf(
      await post({
        body: Buffer.from('{"chatType":"group","topic":"Caf\xe9"}', 'latin1'),
        headers: { 'content-type': 'application/json' },
      }),
      400,
    );

    // Assess
    expect(empty.detail).toMatch(/empty/);
    expect(latin1.detail).toMatch(`byte 0xe9 at offset ${'{"chatType":"group","topic":"Caf'.length}`);
  });

  it.each([
    ['text/plain', 'text/plain'],
    ['form data', 'application/x-www-form-urlencoded'],
    ['JSON in Latin-1', 'application/json; charset=iso-8859-1'],
  ])('415 for a %s content type', async (_name, contentType) => {
    // Act
    const problem = await problemOf(
      await post({ body: JSON.stringify(group()), headers: { 'content-type': contentType } }),
      415,
    );

    // Assess
    expect(problem.detail).toMatch(/application\/json/);
  });

  it('415 when there is no content type at all', async () => {
    // Act: a byte body, so fetch adds no Content-Type of its own
    const answer = await post({ body: new TextEncoder().encode(JSON.stringify(group())) });

    // Assess
    expect((await problemOf(answer, 415)).detail).toMatch(/no Content-Type/);
  });

  it('accepts application/json with charset=utf-8 and a +json type (the happy path is reachable)', async () => {
    // Act
    const plain = await post({
      body: JSON.stringify(group()),
      headers: { 'content-type': 'application/json; charset=UTF-8' },
    });
    const vendor = await post({
      body: JSON.stringify(group()),
      headers: { 'content-type': 'application/vnd.hr+json' },
    });

    // Assess
    expect([plain.status, vendor.status]).toEqual([202, 202]);
  });

  it('413 for a body over 1 MiB, declared by Content-Length', async () => {
    // Prepare: valid JSON, just over the limit
    const body = JSON.stringify(group({ topic: 'x'.repeat(MiB) }));

    // Act
    const problem = await problemOf(await post({ body, headers: { 'content-type': 'application/json' } }), 413);

    // Assess
    expect(problem.detail).toMatch(/1 MiB/);
  });

  it('413 for a body over 1 MiB sent chunked, without Content-Length', async () => {
    // Prepare
    const chunk = new TextEncoder().encode(' '.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= MiB + chunk.length) controller.close();
        else {
          controller.enqueue(chunk);
          sent += chunk.length;
        }
      },
    });

    // Act
    const answer = await post({
      body: stream,
      headers: { 'content-type': 'application/json' },
      duplex: 'half',
    } as RequestInit);

    // Assess
    await problemOf(answer, 413);
  });

  it('accepts a valid body of just under 1 MiB (insignificant whitespace counts toward the limit only)', async () => {
    // Prepare
    const json = JSON.stringify(group());
    const body = json + ' '.repeat(MiB - Buffer.byteLength(json));

    // Act
    const answer = await post({ body, headers: { 'content-type': 'application/json' } });

    // Assess
    expect(answer.status).toBe(202);
  });

  it.each([
    ['one member id of 900 KB', () => group({ members: ['a'.repeat(900 * 1024) + '@x.com', 'b@x.com'] })],
    [
      '250 members of 4 KB each',
      () => ({ chatType: 'group', members: Array.from({ length: 250 }, (_, i) => `${'u'.repeat(4000)}${i}@x.com`) }),
    ],
    [
      'an RSC permission name of 900 KB',
      () => group({ apps: [{ teamsAppId: 'a', rscPermissions: ['P'.repeat(900 * 1024)] }] }),
    ],
  ])('a body under 1 MiB made of %s is answered without a 5xx', async (_name, body) => {
    // Act
    const answer = await post({ json: body() });

    // Assess: refused before anything is written, as a problem the caller can act on (400 once the
    // schema caps field lengths, 413 from the storage-size check until then)
    expect([400, 413]).toContain(answer.status);
    await problemOf(answer, answer.status);
  });

  it('401 without the function key (the route is not anonymous)', async () => {
    // Act
    const answer = await stack.api('/api/requests', { method: 'POST', json: group(), key: null });

    // Assess
    expect(answer.status).toBe(401);
  });

  it('GET /api/openapi.json describes the intake routes with their request bodies and problem answers', async () => {
    // Act: anonymous, as documented
    const answer = await stack.api('/api/openapi.json', { key: null });

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = (await answer.json()) as {
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toMatch(/^3\./);
    const single = doc.paths['/api/requests']?.post;
    const batch = doc.paths['/api/requests/batch']?.post;
    expect(single?.requestBody).toBeDefined();
    expect(batch?.requestBody).toBeDefined();
    expect(Object.keys(single!.responses)).toEqual(expect.arrayContaining(['200', '202', '400', '413', '415', '422']));
    expect(Object.keys(batch!.responses)).toEqual(expect.arrayContaining(['200', '400']));
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining([
        'ChatRequestBody',
        'CompactChatRequest',
        'GraphCreateChatRequest',
        'Problem',
        'BatchResult',
      ]),
    );
  });
});
