import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { IncomingHttpHeaders } from 'node:http';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ClientCertificateCredential, ClientSecretCredential } from '@azure/identity';
import { transpileFolders } from '../support/ts-imports';
import { GraphSimulator, startGraphSimulator } from '../../dev/simulator';

const REPO = resolve(__dirname, '../..');
const FIXTURES = join(REPO, 'test/fixtures/graph-examples');
const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
const MEMBER_TYPE = '#microsoft.graph.aadUserConversationMember';

/** Every request example of the create-chat docs and the status the docs answer it with. */
const DOC_EXAMPLES: [string, number][] = [
  ['003-example-1.json', 201],
  ['003-example-2.json', 201],
  ['003-example-3.json', 202],
  ['003-example-4.json', 202],
  ['003-example-5.json', 201],
  ['003-example-6.json', 201],
  ['003-example-7.json', 201],
  ['002-example-1.json', 201],
  ['002-example-2.json', 201],
  ['002-example-3.json', 202],
];

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

let sim: GraphSimulator;
let agent: Agent;
let token: string;
let tempDir: string;

function call(
  method: string,
  path: string,
  options: {
    body?: unknown;
    rawBody?: string;
    headers?: Record<string, string>;
    token?: string | null;
    /** Another simulator than the shared one. */
    target?: { url: string; agent: Agent };
  } = {},
): Promise<Reply> {
  const url = new URL(path, options.target?.url ?? sim.url);
  const payload = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const bearer = options.token === undefined ? token : options.token;
  return new Promise((resolvePromise, reject) => {
    const req = request(
      url,
      {
        method,
        agent: options.target?.agent ?? agent,
        headers: {
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = undefined;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = text;
          }
          resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body, text });
        });
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

const member = (ref: string, role = 'owner', extra: Record<string, unknown> = {}) => ({
  '@odata.type': MEMBER_TYPE,
  roles: [role],
  'user@odata.bind': `https://graph.microsoft.com/v1.0/users('${ref}')`,
  ...extra,
});
const groupBody = (topic: string, ...refs: string[]) => ({
  chatType: 'group',
  topic,
  members: refs.map((r) => member(r)),
});
const oneOnOneBody = (a: string, b: string) => ({ chatType: 'oneOnOne', members: [member(a), member(b)] });
const withApp = (body: object) => ({
  ...body,
  installedApps: [
    {
      'teamsApp@odata.bind':
        'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/8e55a7b1-6766-4f0a-8610-ecacfe3d569a',
    },
  ],
});
const fixture = (name: string): unknown => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));
const secretCredential = (secret = sim.clientSecret) =>
  new ClientSecretCredential(sim.tenantId, sim.clientId, secret, {
    authorityHost: sim.authorityHost,
    disableInstanceDiscovery: true,
    agent,
  });
const operationUrl = (location: string, version = 'beta') => `/${version}${location}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  sim = await startGraphSimulator({ quiet: true, tenantRps: 1000 });
  agent = new Agent({ ca: sim.ca, keepAlive: true });
  token = (await secretCredential().getToken(GRAPH_SCOPE)).token;
  tempDir = mkdtempSync(join(tmpdir(), 'graph-sim-test-'));
});

afterAll(async () => {
  agent.destroy();
  await sim.stop();
  rmSync(tempDir, { recursive: true, force: true });
});

beforeEach(() => sim.control.reset({ config: true, users: true }));

describe('Entra token endpoint through @azure/identity over TLS', () => {
  it('gives ClientSecretCredential a Graph token with tenant, app and roles', async () => {
    const accessToken = await secretCredential().getToken(GRAPH_SCOPE);
    const claims = JSON.parse(Buffer.from(accessToken.token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    expect(claims).toMatchObject({
      tid: sim.tenantId,
      appid: sim.clientId,
      roles: ['Chat.Create', 'Chat.ReadBasic.All', 'User.ReadBasic.All'],
      aud: 'https://graph.microsoft.com',
    });
    expect(accessToken.expiresOnTimestamp).toBeGreaterThan(Date.now() + 3000_000);
    const paths = sim.control.requests().map((r) => `${r.method} ${r.path.split('?')[0]} ${r.status}`);
    expect(paths).toEqual([
      `GET /${sim.tenantId}/v2.0/.well-known/openid-configuration 200`,
      `POST /${sim.tenantId}/oauth2/v2.0/token 200`,
    ]);
  });

  it('gives ClientCertificateCredential a token for a client assertion signed with the PEM file', async () => {
    const certificatePath = join(tempDir, 'client-certificate.pem');
    writeFileSync(certificatePath, sim.certificate.pem);
    const credential = new ClientCertificateCredential(
      sim.tenantId,
      sim.certificate.clientId,
      { certificatePath },
      { authorityHost: sim.authorityHost, disableInstanceDiscovery: true, agent },
    );
    const accessToken = await credential.getToken(GRAPH_SCOPE);
    const claims = JSON.parse(Buffer.from(accessToken.token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    expect(claims.appid).toBe(sim.certificate.clientId);
    const tokenRequest = sim.control.requests().find((r) => r.path.includes('/oauth2/v2.0/token'));
    expect(tokenRequest?.body).toEqual(expect.stringContaining('client_assertion=%5Bredacted%5D'));
    expect(tokenRequest?.body).toEqual(expect.stringContaining('jwt-bearer'));
  });

  it('surfaces AADSTS7000215 through the SDK for a wrong secret', async () => {
    await expect(secretCredential('wrong-secret').getToken(GRAPH_SCOPE)).rejects.toThrow(
      /AADSTS7000215: Invalid client secret provided/,
    );
  });

  it('shapes token errors like Entra over the wire', async () => {
    const form = (fields: Record<string, string>) =>
      new URLSearchParams({ grant_type: 'client_credentials', ...fields }).toString();
    const post = (tenant: string, fields: Record<string, string>) =>
      call('POST', `/${tenant}/oauth2/v2.0/token`, {
        rawBody: form(fields),
        token: null,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'client-request-id': 'corr-42' },
      });
    const wrongScope = await post(sim.tenantId, {
      client_id: sim.clientId,
      client_secret: sim.clientSecret,
      scope: 'Chat.Create',
    });
    expect(wrongScope.status).toBe(400);
    expect(wrongScope.body).toMatchObject({
      error: 'invalid_scope',
      error_codes: [1002012],
      correlation_id: 'corr-42',
    });
    expect(Object.keys(wrongScope.body).sort()).toEqual([
      'correlation_id',
      'error',
      'error_codes',
      'error_description',
      'error_uri',
      'timestamp',
      'trace_id',
    ]);
    const unknownTenant = await post('fabrikam.onmicrosoft.com', {
      client_id: sim.clientId,
      client_secret: sim.clientSecret,
      scope: GRAPH_SCOPE,
    });
    expect([unknownTenant.status, unknownTenant.body.error_codes]).toEqual([400, [90002]]);
    const unknownClient = await post(sim.tenantId, { client_id: 'nobody', client_secret: 'x', scope: GRAPH_SCOPE });
    expect([unknownClient.status, unknownClient.body.error, unknownClient.body.error_codes]).toEqual([
      401,
      'invalid_client',
      [700016],
    ]);
    const password = await post(sim.tenantId, { client_id: sim.clientId, scope: GRAPH_SCOPE, grant_type: 'password' });
    expect([password.status, password.body.error]).toEqual([400, 'unsupported_grant_type']);
    const viaGet = await call('GET', `/${sim.tenantId}/oauth2/v2.0/token`, { token: null });
    expect([viaGet.status, viaGet.body.error_codes]).toEqual([400, [900561]]);
  });

  it('fails token requests on demand: tokenError and 503 faults on the token path', async () => {
    sim.control.addFault({
      match: { pathRegex: '/oauth2/v2\\.0/token' },
      fault: { type: 'tokenError', error: 'invalid_client' },
    });
    await expect(secretCredential().getToken(GRAPH_SCOPE)).rejects.toThrow(/AADSTS7000215/);
    sim.control.addFault({
      match: { pathRegex: '/oauth2/v2\\.0/token' },
      fault: { type: 'status', status: 503, retryAfter: 2 },
    });
    const reply = await call('POST', `/${sim.tenantId}/oauth2/v2.0/token`, {
      rawBody: 'grant_type=client_credentials',
      token: null,
    });
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('2');
    expect(reply.body.error).toBe('temporarily_unavailable');
    expect(sim.control.stats().faultsFired.byType).toEqual({ 'before:tokenError': 1, 'before:503': 1 });
  });

  it('serves the OpenID configuration on the simulator origin for both paths', async () => {
    for (const path of [
      `/${sim.tenantId}/v2.0/.well-known/openid-configuration`,
      `/${sim.tenantId}/.well-known/openid-configuration`,
    ]) {
      const reply = await call('GET', path, { token: null });
      expect(reply.status).toBe(200);
      expect(reply.body.token_endpoint).toBe(`${sim.url}/${sim.tenantId}/oauth2/v2.0/token`);
      expect(reply.body.issuer).toBe(`${sim.url}/${sim.tenantId}/v2.0`);
    }
    const keys = await call('GET', `/${sim.tenantId}/discovery/v2.0/keys`, { token: null });
    expect(keys.body.keys[0]).toMatchObject({ kty: 'RSA', use: 'sig' });
  });
});

describe('POST /chats with every documented example', () => {
  it('has a fixture for each example', () => {
    expect(readdirSync(FIXTURES).sort()).toEqual(DOC_EXAMPLES.map(([name]) => name).sort());
  });

  it.each(DOC_EXAMPLES)('%s answers %d as documented', async (name, status) => {
    const body = fixture(name) as { chatType: string; topic?: string };
    const reply = await call('POST', '/v1.0/chats', { body });
    expect(reply.status).toBe(status);
    expect(reply.headers['request-id']).toMatch(/^[0-9a-f-]{36}$/);
    if (status === 201) {
      expect(reply.body).toMatchObject({
        '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#chats/$entity',
        chatType: body.chatType,
        topic: body.topic ?? null,
        tenantId: sim.tenantId,
        onlineMeetingInfo: null,
      });
      expect(reply.body.id).toMatch(
        body.chatType === 'group' ? /^19:[0-9a-f]{32}@thread\.v2$/ : /^19:[^_]+_[^_]+@unq\.gbl\.spaces$/,
      );
      expect(new Date(reply.body.createdDateTime).getTime()).toBeGreaterThan(Date.now() - 60_000);
    } else {
      expect(reply.text).toBe('');
      expect(reply.headers['content-type']).toMatch(/^application\/json/);
      expect(reply.headers.location).toMatch(/^\/chats\('19:[^']+'\)\/operations\('[0-9a-f-]+'\)$/);
    }
  });

  it("gives the docs' own chat ids for the UPN and federated one-on-one examples", async () => {
    expect((await call('POST', '/v1.0/chats', { body: fixture('003-example-5.json') })).body.id).toBe(
      '19:82fe7758-5bb3-4f0d-a43f-e555fd399c6f_8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca@unq.gbl.spaces',
    );
    const federated = await call('POST', '/v1.0/chats', { body: fixture('003-example-7.json') });
    expect(federated.body.id).toBe(
      '19:82af01c5-f7cc-4a2e-a728-3a5df21afd9d_8b081ef6-4792-4def-b2c9-c363a1bf41d5@unq.gbl.spaces',
    );
    expect(sim.control.chats().chats.find((c) => c.id === federated.body.id)?.members).toContainEqual({
      userId: '82af01c5-f7cc-4a2e-a728-3a5df21afd9d',
      roles: ['owner'],
      tenantId: '4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1',
    });
  });
});

describe('chat identity', () => {
  it('returns the same one-on-one chat on repeat and counts it once', async () => {
    const first = await call('POST', '/v1.0/chats', { body: oneOnOneBody('alex@contoso.com', 'user7@contoso.com') });
    const again = await call('POST', '/v1.0/chats', {
      body: oneOnOneBody('5e000000-0000-4000-8000-000000000007', 'alex@contoso.com'),
    });
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.createdDateTime).toBe(first.body.createdDateTime);
    expect(sim.control.chats().count).toBe(1);
    expect(sim.control.stats().chatsCreated).toBe(1);
  });

  it('makes two group chats for the same body posted twice', async () => {
    const body = groupBody('Welcome Ana', 'alex@contoso.com', 'jacob@contoso.com', 'diego@contoso.com');
    const ids = [
      (await call('POST', '/v1.0/chats', { body })).body.id,
      (await call('POST', '/v1.0/chats', { body })).body.id,
    ];
    expect(ids[0]).not.toBe(ids[1]);
    expect(sim.control.chats().chats.map((c) => c.id)).toEqual(ids);
    const seqs = sim.control
      .requests()
      .filter((r) => r.method === 'POST')
      .map((r) => r.seq);
    expect(sim.control.chats().chats.map((c) => c.createdByRequestSeq)).toEqual(seqs);
  });

  it('derives tenant, app and group chat ids from the seed', async () => {
    const a = await startGraphSimulator({ quiet: true, seed: 42 });
    const b = await startGraphSimulator({ quiet: true, seed: 42 });
    const c = await startGraphSimulator({ quiet: true, seed: 43 });
    try {
      expect([b.tenantId, b.clientId, b.clientSecret]).toEqual([a.tenantId, a.clientId, a.clientSecret]);
      expect(c.tenantId).not.toBe(a.tenantId);
      const groupIds = async (s: GraphSimulator) => {
        const target = { url: s.url, agent: new Agent({ ca: s.ca }) };
        const credential = new ClientSecretCredential(s.tenantId, s.clientId, s.clientSecret, {
          authorityHost: s.authorityHost,
          disableInstanceDiscovery: true,
          agent: target.agent,
        });
        const bearer = (await credential.getToken(GRAPH_SCOPE)).token;
        try {
          const body = groupBody('Seeded', 'alex@contoso.com', 'jacob@contoso.com');
          const ids: string[] = [];
          for (let i = 0; i < 3; i += 1)
            ids.push((await call('POST', '/v1.0/chats', { body, token: bearer, target })).body.id);
          return ids;
        } finally {
          target.agent.destroy();
        }
      };
      const fromA = await groupIds(a);
      expect(await groupIds(b)).toEqual(fromA);
      expect(await groupIds(c)).not.toEqual(fromA);
    } finally {
      await Promise.all([a.stop(), b.stop(), c.stop()]);
    }
  });
});

describe('async operations (202)', () => {
  const prefer = { prefer: 'include-unknown-enum-members' };

  it('moves notStarted → inProgress → succeeded, and the chat exists only once succeeded', async () => {
    const accepted = await call('POST', '/v1.0/chats', {
      body: withApp(groupBody('With app', 'alex@contoso.com', 'jacob@contoso.com')),
    });
    const location: string = accepted.headers.location ?? '';
    const chatId = /^\/chats\('([^']+)'\)/.exec(location)?.[1] ?? '';
    const seen: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      expect((await call('GET', `/v1.0/chats/${encodeURIComponent(chatId)}`)).status).toBe(404);
      const op = await call('GET', operationUrl(location), { headers: prefer });
      expect(op.body).toMatchObject({
        operationType: 'createChat',
        attemptsCount: 1,
        targetResourceId: chatId,
        targetResourceLocation: `/chats('${chatId}')`,
        error: null,
      });
      seen.push(op.body.status);
    }
    expect(seen).toEqual(['notStarted', 'inProgress', 'succeeded']);
    expect((await call('GET', `/v1.0/chats('${chatId}')`)).body.id).toBe(chatId);
    expect(
      (await call('GET', '/v1.0/users/alex@contoso.com/chats')).body.value.map((c: { id: string }) => c.id),
    ).toEqual([chatId]);
    expect(sim.control.chats().chats[0]).toMatchObject({
      id: chatId,
      installedAppIds: ['8e55a7b1-6766-4f0a-8610-ecacfe3d569a'],
    });
  });

  it('answers both path forms under /beta, and hides createChat without the Prefer header', async () => {
    sim.control.configure({ operationTimings: { inProgressAfterPolls: 0, succeededAfterPolls: 1 } });
    const location: string =
      (await call('POST', '/v1.0/chats', { body: fixture('003-example-4.json') })).headers.location ?? '';
    const [, chatId, opId] = /^\/chats\('([^']+)'\)\/operations\('([^']+)'\)$/.exec(location) ?? [];
    const first = await call('GET', `/beta/chats/${encodeURIComponent(chatId ?? '')}/operations/${opId}`);
    expect([first.body.status, first.body.operationType]).toEqual(['inProgress', 'unknownFutureValue']);
    const second = await call('GET', operationUrl(location, 'beta'), { headers: prefer });
    expect([second.body.status, second.body.operationType]).toEqual(['succeeded', 'createChat']);
    expect((await call('GET', `/v1.0/chats/${opId}/operations/${opId}`)).status).toBe(400);
  });

  it('has no operations under v1.0: Graph refuses the segment, in both path forms', async () => {
    const location: string =
      (await call('POST', '/v1.0/chats', { body: withApp(groupBody('V1', 'alex@contoso.com', 'jacob@contoso.com')) }))
        .headers.location ?? '';
    const [, chatId, opId] = /^\/chats\('([^']+)'\)\/operations\('([^']+)'\)$/.exec(location) ?? [];
    for (const path of [
      operationUrl(location, 'v1.0'),
      `/v1.0/chats/${encodeURIComponent(chatId ?? '')}/operations/${opId}`,
    ]) {
      const answer = await call('GET', path, { headers: prefer });
      expect([answer.status, answer.body.error?.code, answer.body.error?.message]).toEqual([
        400,
        'BadRequest',
        "Resource not found for the segment 'operations'.",
      ]);
    }
    // The refusal is not a poll: the operation has not moved.
    expect((await call('GET', operationUrl(location), { headers: prefer })).body.status).toBe('notStarted');
  });

  it.each([
    [
      'failed',
      { fate: 'failed', error: { code: 'ChatCreationFailed', message: 'Teams said no' } },
      'failed',
      'failed',
      false,
    ],
    ['stall', 'stall', 'inProgress', 'inProgress', false],
    ['invalid', 'invalid', 'invalid', 'invalid', false],
    [
      'unknownFutureValue',
      { fate: 'unknownFutureValue', futureValue: 'deferred' },
      'unknownFutureValue',
      'deferred',
      false,
    ],
  ] as const)('scripts the fate %s', async (_name, fate, statusPlain, statusPreferred, chatExists) => {
    const location: string =
      (
        await call('POST', '/v1.0/chats', {
          body: withApp(groupBody('Fated', 'alex@contoso.com', 'jacob@contoso.com')),
        })
      ).headers.location ?? '';
    const opId = /operations\('([^']+)'\)/.exec(location)?.[1] ?? '';
    sim.control.setOperationFate(opId, fate);
    const statuses: string[] = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await call('GET', operationUrl(location))).body.status);
    expect(statuses.slice(0, 2)).toEqual(['notStarted', 'inProgress']);
    expect(statuses.slice(2)).toEqual([statusPlain, statusPlain]);
    const preferred = await call('GET', operationUrl(location), { headers: prefer });
    expect(preferred.body.status).toBe(statusPreferred);
    if (statusPlain === 'failed')
      expect(preferred.body.error).toEqual({ code: 'ChatCreationFailed', message: 'Teams said no' });
    expect(sim.control.chats().count > 0).toBe(chatExists);
  });

  it('vanishes (404) while the chat was made, as a default fate over HTTP', async () => {
    expect((await call('POST', '/_sim/config', { body: { defaultOperationFate: 'vanish' }, token: null })).status).toBe(
      200,
    );
    const location: string =
      (await call('POST', '/v1.0/chats', { body: withApp(groupBody('Gone', 'alex@contoso.com', 'jacob@contoso.com')) }))
        .headers.location ?? '';
    const op = await call('GET', operationUrl(location));
    expect(op.status).toBe(404);
    expect(op.body.error.code).toBe('NotFound');
    const chatId = /^\/chats\('([^']+)'\)/.exec(location)?.[1];
    expect(sim.control.chats().chats.map((c) => c.id)).toEqual([chatId]);
  });

  it('lets HTTP control script one operation', async () => {
    const location: string =
      (await call('POST', '/v1.0/chats', { body: withApp(groupBody('One', 'alex@contoso.com', 'jacob@contoso.com')) }))
        .headers.location ?? '';
    const opId = /operations\('([^']+)'\)/.exec(location)?.[1] ?? '';
    const scripted = await call('POST', `/_sim/operations/${encodeURIComponent(opId)}`, {
      body: { fate: 'stall' },
      token: null,
    });
    expect(scripted.body).toMatchObject({ id: opId, fate: { kind: 'stall' } });
    expect((await call('POST', '/_sim/operations/nope', { body: { fate: 'stall' }, token: null })).status).toBe(404);
    expect(
      (await call('POST', `/_sim/operations/${encodeURIComponent(opId)}`, { body: { fate: 'explode' }, token: null }))
        .status,
    ).toBe(400);
  });
});

describe('Graph rules and errors', () => {
  it("answers 400 with Graph's words for role 'member' and a 1-on-1 topic", async () => {
    const member400 = await call('POST', '/v1.0/chats', {
      body: { chatType: 'group', members: [member('alex@contoso.com', 'member'), member('jacob@contoso.com')] },
      headers: { 'client-request-id': 'mine-1' },
    });
    expect(member400.status).toBe(400);
    expect(member400.body.error).toEqual({
      code: 'BadRequest',
      message: "The passed-in role 'member' is not supported.",
      innerError: {
        date: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/),
        'request-id': member400.headers['request-id'],
        'client-request-id': 'mine-1',
      },
    });
    expect(member400.headers['client-request-id']).toBe('mine-1');
    const topic = await call('POST', '/v1.0/chats', {
      body: { ...oneOnOneBody('alex@contoso.com', 'jacob@contoso.com'), topic: 'Hi' },
    });
    expect([topic.status, topic.body.error.message]).toEqual([400, 'Setting topic is not allowed for 1-on-1 chats']);
  });

  it.each([
    [
      'meeting',
      { chatType: 'meeting', members: [member('alex@contoso.com'), member('jacob@contoso.com')] },
      400,
      'BadRequest',
    ],
    [
      'a 251-member group',
      { chatType: 'group', members: Array.from({ length: 251 }, (_, i) => member(`user${i}@contoso.com`)) },
      400,
      'BadRequest',
    ],
    ['an unknown UPN', oneOnOneBody('alex@contoso.com', 'nobody@contoso.com'), 404, 'NotFound'],
    ['an unlicensed member', oneOnOneBody('alex@contoso.com', 'unlicensed@contoso.com'), 403, 'Forbidden'],
    [
      'an unknown app',
      {
        ...groupBody('x', 'alex@contoso.com', 'jacob@contoso.com'),
        installedApps: [{ 'teamsApp@odata.bind': 'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/nope' }],
      },
      404,
      'NotFound',
    ],
  ])('refuses %s', async (_name, body, status, code) => {
    const reply = await call('POST', '/v1.0/chats', { body });
    expect([reply.status, reply.body.error.code]).toEqual([status, code]);
    expect(sim.control.chats().count).toBe(0);
  });

  it('refuses listing chats app-only with 412 PreconditionFailed, as Teams does', async () => {
    const reply = await call('GET', '/v1.0/chats');
    expect([reply.status, reply.body.error.code, reply.body.error.message]).toEqual([
      412,
      'PreconditionFailed',
      'Requested API is not supported in application-only context',
    ]);
  });

  it('scripts the known Graph answers by name (a 400 server fault after the chat was made)', async () => {
    sim.control.addFault({
      match: { method: 'POST', pathPrefix: '/v1.0/chats' },
      phase: 'after',
      fault: { type: 'graphError', error: 'invocationException' },
    });
    const reply = await call('POST', '/v1.0/chats', {
      body: groupBody('Made', 'alex@contoso.com', 'jacob@contoso.com'),
    });
    expect([reply.status, reply.body.error.code, reply.body.error.message]).toEqual([
      400,
      'BadRequest',
      'Exception has been thrown by the target of an invocation.',
    ]);
    expect(reply.headers['request-id']).toBeDefined();
    expect(sim.control.chats().count).toBe(1);
  });

  it('names the user and the licence problem as Graph does', async () => {
    expect(
      (await call('POST', '/v1.0/chats', { body: oneOnOneBody('alex@contoso.com', 'nobody@contoso.com') })).body.error
        .message,
    ).toBe('Failed to find users with user principal name nobody@contoso.com.');
    expect(
      (await call('POST', '/v1.0/chats', { body: oneOnOneBody('alex@contoso.com', 'unlicensed3@contoso.com') })).body
        .error.message,
    ).toBe('Failed to get license information for the user. Ensure user has a valid Office365 license.');
  });

  it('finds a new hire only from availableAt on, set through control', async () => {
    sim.control.upsertUsers({ userPrincipalName: 'ana@contoso.com', availableAt: Date.now() + 3600_000 });
    expect(
      (await call('POST', '/v1.0/chats', { body: oneOnOneBody('alex@contoso.com', 'ana@contoso.com') })).status,
    ).toBe(404);
    const updated = await call('POST', '/_sim/users', {
      body: { userPrincipalName: 'ana@contoso.com', availableAt: null },
      token: null,
    });
    expect(updated.body.users[0]).toMatchObject({ userPrincipalName: 'ana@contoso.com' });
    expect(
      (await call('POST', '/v1.0/chats', { body: oneOnOneBody('alex@contoso.com', 'ana@contoso.com') })).status,
    ).toBe(201);
  });

  it('hides generated new hires for newHireReplicationSeconds after the first lookup', async () => {
    sim.control.configure({ newHireReplicationSeconds: 0.3 });
    expect(
      (await call('POST', '/v1.0/chats', { body: oneOnOneBody('alex@contoso.com', 'newhire12@contoso.com') })).status,
    ).toBe(404);
    await sleep(350);
    expect(
      (await call('POST', '/v1.0/chats', { body: oneOnOneBody('alex@contoso.com', 'newhire12@contoso.com') })).status,
    ).toBe(201);
  });

  it('answers malformed JSON and unknown routes in Graph shape', async () => {
    const malformed = await call('POST', '/v1.0/chats', { rawBody: '{"chatType":' });
    expect([malformed.status, malformed.body.error.code]).toEqual([400, 'BadRequest']);
    const unknownSegment = await call('GET', '/v1.0/teams/x');
    expect([unknownSegment.status, unknownSegment.body.error.message]).toEqual([
      400,
      "Resource not found for the segment 'teams'.",
    ]);
    const elsewhere = await call('GET', '/v2/chats');
    expect([elsewhere.status, elsewhere.body.error.code]).toEqual([404, 'UnknownError']);
    expect(elsewhere.headers['request-id']).toBeDefined();
  });

  it('needs a bearer token it issued and that has not expired', async () => {
    const none = await call('GET', '/v1.0/chats/x', { token: null });
    expect([none.status, none.body.error.code, none.body.error.message]).toEqual([
      401,
      'InvalidAuthenticationToken',
      'Access token is empty.',
    ]);
    expect((await call('GET', '/v1.0/chats/x', { token: 'a.b.c' })).status).toBe(401);
    sim.control.configure({ tokenLifetimeSeconds: 0 });
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: sim.clientId,
      client_secret: sim.clientSecret,
      scope: GRAPH_SCOPE,
    });
    const expired = (
      await call('POST', `/${sim.tenantId}/oauth2/v2.0/token`, { rawBody: form.toString(), token: null })
    ).body.access_token;
    const reply = await call('GET', '/v1.0/chats/x', { token: expired });
    expect([reply.status, reply.body.error.code]).toEqual([401, 'InvalidAuthenticationToken']);
  });

  it('answers 403 when the app lacks the role', async () => {
    sim.control.configure({ grantedRoles: ['Chat.ReadBasic.All'] });
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: sim.clientId,
      client_secret: sim.clientSecret,
      scope: GRAPH_SCOPE,
    });
    const readOnly = (
      await call('POST', `/${sim.tenantId}/oauth2/v2.0/token`, { rawBody: form.toString(), token: null })
    ).body.access_token;
    const reply = await call('POST', '/v1.0/chats', {
      body: oneOnOneBody('alex@contoso.com', 'jacob@contoso.com'),
      token: readOnly,
    });
    expect([reply.status, reply.body.error.code]).toEqual([403, 'Forbidden']);
  });
});

describe("listing a user's chats", () => {
  async function seedChats(): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      ids.push(
        (
          await call('POST', '/v1.0/chats', {
            body: groupBody(`Group ${i}`, 'alex@contoso.com', 'jacob@contoso.com', `user${i}@contoso.com`),
          })
        ).body.id,
      );
    }
    await call('POST', '/v1.0/chats', { body: oneOnOneBody('alex@contoso.com', 'diego@contoso.com') });
    return ids;
  }

  it('filters by chatType and createdDateTime, combined with and', async () => {
    const before = new Date(Date.now() - 1000).toISOString();
    const ids = await seedChats();
    const groups = await call(
      'GET',
      `/v1.0/users/alex@contoso.com/chats?$filter=${encodeURIComponent("chatType eq 'group'")}`,
    );
    expect(groups.body.value.map((c: { id: string }) => c.id)).toEqual(ids);
    const both = await call(
      'GET',
      `/v1.0/users('alex@contoso.com')/chats?$filter=${encodeURIComponent(`createdDateTime ge ${before} and chatType eq 'oneOnOne'`)}`,
    );
    expect(both.body.value).toHaveLength(1);
    const future = await call(
      'GET',
      `/v1.0/users/alex@contoso.com/chats?$filter=${encodeURIComponent(`createdDateTime ge ${new Date(Date.now() + 60_000).toISOString()}`)}`,
    );
    expect(future.body.value).toEqual([]);
    const byId = await call('GET', '/v1.0/users/8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca/chats');
    expect(byId.body.value).toHaveLength(6);
  });

  it('pages with $top and an absolute @odata.nextLink on the simulator', async () => {
    const ids = await seedChats();
    const collected: string[] = [];
    let next: string | undefined =
      `/v1.0/users/alex@contoso.com/chats?$top=2&$filter=${encodeURIComponent("chatType eq 'group'")}`;
    let pages = 0;
    while (next) {
      const page: Reply = await call('GET', next);
      expect(page.status).toBe(200);
      collected.push(...page.body.value.map((c: { id: string }) => c.id));
      next = page.body['@odata.nextLink'];
      if (next) expect(next.startsWith(`${sim.url}/v1.0/users/alex@contoso.com/chats?`)).toBe(true);
      pages += 1;
    }
    expect(pages).toBe(3);
    expect(collected).toEqual(ids);
  });

  it('expands members (at most 25) and refuses $top above 50', async () => {
    const big = Array.from({ length: 30 }, (_, i) => `user${100 + i}@contoso.com`);
    await call('POST', '/v1.0/chats', { body: groupBody('Big', 'alex@contoso.com', ...big) });
    const listed = await call('GET', '/v1.0/users/alex@contoso.com/chats?$expand=members');
    const members = listed.body.value[0].members;
    expect(members).toHaveLength(25);
    expect(members[0]).toMatchObject({
      '@odata.type': MEMBER_TYPE,
      userId: '8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca',
      email: 'alex@contoso.com', // alex's mail is his UPN; ana's below is not
      roles: ['owner'],
      tenantId: sim.tenantId,
    });
    expect((await call('GET', '/v1.0/users/alex@contoso.com/chats?$top=51')).status).toBe(400);
    expect((await call('GET', '/v1.0/users/alex@contoso.com/chats?$filter=nonsense')).status).toBe(400);
    expect((await call('GET', '/v1.0/users/nobody@contoso.com/chats')).status).toBe(404);
  });
});

describe('real member data: object ids, UPNs and mail', () => {
  const ANA = {
    id: 'a7f3c2e1-5b4d-4c6a-9e8f-1a2b3c4d5e6f',
    upn: 'ana@contoso.onmicrosoft.com',
    mail: 'ana.silva@contoso.com',
  };
  const BRUNO = { id: 'b8e4d3f2-6c5e-4d7b-8f90-2b3c4d5e6f70', upn: 'bruno@contoso.onmicrosoft.com' };

  it('lists members with userId = object id and email = mail (not the UPN the caller named)', async () => {
    await call('POST', '/v1.0/chats', {
      body: groupBody('Mail', ANA.upn, BRUNO.id, 'user5@contoso.com', 'dario@contoso.onmicrosoft.com'),
    });
    const listed = await call('GET', `/v1.0/users/${ANA.upn}/chats?$expand=members`);
    const members = listed.body.value[0].members as { userId: string; email: string | null }[];
    expect(members.map((m) => [m.userId, m.email])).toEqual([
      [ANA.id, ANA.mail],
      [BRUNO.id, 'bruno.costa@contoso.com'],
      ['5e000000-0000-4000-8000-000000000005', 'user5.mail@contoso.com'],
      ['d0a6f5b4-8e70-4f9d-a1b2-4d5e6f708192', null],
    ]);
  });

  it('builds a one-on-one id from both object ids, whichever form named them', async () => {
    const expected = `19:${ANA.id}_${BRUNO.id}@unq.gbl.spaces`;
    const byUpn = await call('POST', '/v1.0/chats', { body: oneOnOneBody(BRUNO.upn, ANA.upn) });
    const mixed = await call('POST', '/v1.0/chats', { body: oneOnOneBody(ANA.id, BRUNO.upn) });
    const byId = await call('POST', '/v1.0/chats', { body: oneOnOneBody(BRUNO.id.toUpperCase(), ANA.id) });
    expect([byUpn.body.id, mixed.body.id, byId.body.id]).toEqual([expected, expected, expected]);
    expect(sim.control.chats().count).toBe(1);
  });

  it('GET /users/{upn or id}?$select=id answers the object id; unknown users get the directory 404', async () => {
    const byUpn = await call('GET', `/v1.0/users/${ANA.upn}?$select=id`);
    expect(byUpn.status).toBe(200);
    expect(byUpn.body).toEqual({
      '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#users(id)/$entity',
      id: ANA.id,
    });
    const keyed = await call('GET', `/v1.0/users('${encodeURIComponent(ANA.upn)}')?$select=id,mail`);
    expect(keyed.body).toMatchObject({ id: ANA.id, mail: ANA.mail });
    const guest = await call(
      'GET',
      `/v1.0/users/${encodeURIComponent('guest4_fabrikam.com#EXT#@contoso.onmicrosoft.com')}?$select=id`,
    );
    expect(guest.body.id).toBe('5e000003-0000-4000-8000-000000000004');
    const full = await call('GET', `/v1.0/users/${ANA.id}`);
    expect(full.body).toMatchObject({
      id: ANA.id,
      userPrincipalName: ANA.upn,
      mail: ANA.mail,
      displayName: 'Ana Silva',
    });

    const missing = await call('GET', '/v1.0/users/nobody@contoso.com?$select=id');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({
      code: 'Request_ResourceNotFound',
      message:
        "Resource 'nobody@contoso.com' does not exist or one of its queried reference-property objects are not present.",
      innerError: { 'request-id': expect.any(String) },
    });
    const badSelect = await call('GET', `/v1.0/users/${ANA.upn}?$select=shoeSize`);
    expect([badSelect.status, badSelect.body.error.code]).toEqual([400, 'Request_BadRequest']);
  });

  it('knows a new hire in the directory before Teams does', async () => {
    const hire = await call('GET', '/v1.0/users/newhire9@contoso.com?$select=id');
    expect(hire.body.id).toBe('5e000001-0000-4000-8000-000000000009');
    expect((await call('GET', '/v1.0/users/newhire9@contoso.com/chats')).status).toBe(404);
  });

  it("refuses GET /users without a user-read role, in the directory's words", async () => {
    sim.control.configure({ grantedRoles: ['Chat.Create', 'Chat.ReadBasic.All'] });
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: sim.clientId,
      client_secret: sim.clientSecret,
      scope: GRAPH_SCOPE,
    });
    const chatOnly = (
      await call('POST', `/${sim.tenantId}/oauth2/v2.0/token`, { rawBody: form.toString(), token: null })
    ).body.access_token;
    const reply = await call('GET', `/v1.0/users/${ANA.upn}?$select=id`, { token: chatOnly });
    expect([reply.status, reply.body.error.code, reply.body.error.message]).toEqual([
      403,
      'Authorization_RequestDenied',
      'Insufficient privileges to complete the operation.',
    ]);
  });

  it('in createdDateTimeFilter "refused" mode answers 400 to any createdDateTime filter, and lists without one', async () => {
    await call('POST', '/v1.0/chats', { body: groupBody('Filtered', ANA.upn, BRUNO.upn) });
    const filter = (f: string) => `/v1.0/users/${ANA.id}/chats?$filter=${encodeURIComponent(f)}&$expand=members`;
    expect((await call('GET', filter("chatType eq 'group' and createdDateTime ge 2020-01-01T00:00:00Z"))).status).toBe(
      200,
    );

    expect(sim.control.configure({ createdDateTimeFilter: 'refused' }).createdDateTimeFilter).toBe('refused');
    const refused = await call('GET', filter("chatType eq 'group' and createdDateTime ge 2020-01-01T00:00:00Z"));
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({
      code: 'BadRequest',
      message:
        "The entity property 'createdDateTime' and operationKind 'GreaterThanOrEqual' is not allowed in $filter query.",
    });
    const le = await call('GET', filter('createdDateTime le 2030-01-01T00:00:00Z'));
    expect(le.body.error.message).toContain("operationKind 'LessThanOrEqual'");
    expect((await call('GET', filter("chatType eq 'group'"))).body.value).toHaveLength(1);
    expect((await call('GET', `/v1.0/users/${ANA.id}/chats?$expand=members`)).body.value).toHaveLength(1);

    const http = await call('POST', '/_sim/config', { body: { createdDateTimeFilter: 'sometimes' }, token: null });
    expect(http.status).toBe(400);
  });
});

describe('throttling per (tenant, app, kind of call)', () => {
  // Opens the sockets first, so TLS handshakes do not spread the burst over time (and refill the bucket).
  const warmConnections = (n: number) => Promise.all(Array.from({ length: n }, () => call('GET', '/v1.0/chats/nope')));

  it('answers 429 with an integer Retry-After beyond the burst, and lets calls through after it', async () => {
    await warmConnections(12);
    sim.control.configure({ readRps: 5 });
    const replies = await Promise.all(Array.from({ length: 12 }, () => call('GET', '/v1.0/chats/nope')));
    const throttled = replies.filter((r) => r.status === 429);
    expect(12 - throttled.length).toBeGreaterThanOrEqual(5);
    expect(12 - throttled.length).toBeLessThanOrEqual(6);
    for (const reply of throttled) {
      expect(reply.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(reply.body.error.code).toBe('TooManyRequests');
    }
    expect(sim.control.stats()).toMatchObject({
      throttled: throttled.length,
      throttledByKind: { read: throttled.length, write: 0 },
      responses429: throttled.length,
    });
    await sleep(Number(throttled[0]?.headers['retry-after']) * 1000);
    expect((await call('GET', '/v1.0/chats/nope')).status).toBe(404);
  });

  it('keeps creates and reads apart: reads used up do not throttle creates, nor the reverse', async () => {
    sim.control.configure({ tenantRps: 2, readRps: 2 });
    const reads = [];
    for (let i = 0; i < 3; i += 1) reads.push((await call('GET', '/v1.0/chats/nope')).status);
    expect(reads).toEqual([404, 404, 429]);
    const body = oneOnOneBody('alex@contoso.com', 'jacob@contoso.com');
    const creates = [];
    for (let i = 0; i < 3; i += 1) creates.push((await call('POST', '/v1.0/chats', { body })).status);
    expect(creates).toEqual([201, 201, 429]);
    expect(sim.control.stats().throttledByKind).toEqual({ read: 1, write: 1 });
  });

  it('holds the configured rate over time', async () => {
    sim.control.configure({ readRps: 10 });
    const started = Date.now();
    let allowed = 0;
    while (Date.now() - started < 1500) if ((await call('GET', '/v1.0/chats/nope')).status !== 429) allowed += 1;
    const expected = 10 + (10 * (Date.now() - started)) / 1000;
    expect(Math.abs(allowed - expected)).toBeLessThanOrEqual(2);
  });

  it('sends decimal Retry-After when configured over HTTP', async () => {
    await warmConnections(6);
    await call('POST', '/_sim/config', { body: { readRps: 4, retryAfterDecimal: true }, token: null });
    const replies = await Promise.all(Array.from({ length: 6 }, () => call('GET', '/v1.0/chats/nope')));
    const retryAfter = Number(replies.find((r) => r.status === 429)?.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(0.25);
  });
});

describe('fault scripts', () => {
  const postChats = { method: 'POST', pathPrefix: '/v1.0/chats' };

  it('answers 503 before the work for the next N calls only', async () => {
    sim.control.addFault({ match: postChats, count: 2, fault: { type: 'status', status: 503 } });
    const body = groupBody('Retry me', 'alex@contoso.com', 'jacob@contoso.com');
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await call('POST', '/v1.0/chats', { body })).status);
    expect(statuses).toEqual([503, 503, 201]);
    expect(sim.control.chats().count).toBe(1);
    expect(sim.control.requests().map((r) => r.fault ?? '-')).toEqual(['before:503', 'before:503', '-']);
  });

  it('sets Retry-After on 429s as scripted: default 1, decimal, or none', async () => {
    sim.control.addFault({ match: postChats, fault: { type: 'status', status: 429 } });
    sim.control.addFault({ match: postChats, fault: { type: 'status', status: 429, retryAfter: 0.5 } });
    sim.control.addFault({ match: postChats, fault: { type: 'status', status: 429, retryAfter: null } });
    const body = oneOnOneBody('alex@contoso.com', 'jacob@contoso.com');
    const replies = [
      await call('POST', '/v1.0/chats', { body }),
      await call('POST', '/v1.0/chats', { body }),
      await call('POST', '/v1.0/chats', { body }),
    ];
    expect(replies.map((r) => [r.status, r.headers['retry-after']])).toEqual([
      [429, '1'],
      [429, '0.5'],
      [429, undefined],
    ]);
    expect(replies[2]?.body.error.code).toBe('TooManyRequests');
  });

  it('matches by method: a GET fault leaves POSTs alone', async () => {
    sim.control.addFault({ match: { method: 'GET' }, fault: { type: 'status', status: 500 } });
    expect(
      (await call('POST', '/v1.0/chats', { body: oneOnOneBody('alex@contoso.com', 'jacob@contoso.com') })).status,
    ).toBe(201);
    expect((await call('GET', '/v1.0/chats/x')).status).toBe(500);
  });

  it('delays before the work, then answers normally', async () => {
    sim.control.addFault({ match: postChats, fault: { type: 'delay', ms: 300 } });
    const started = Date.now();
    const reply = await call('POST', '/v1.0/chats', { body: oneOnOneBody('alex@contoso.com', 'jacob@contoso.com') });
    expect(reply.status).toBe(201);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('resets the connection before the work: no chat', async () => {
    sim.control.addFault({ match: postChats, fault: { type: 'reset' } });
    await expect(
      call('POST', '/v1.0/chats', { body: groupBody('Reset', 'alex@contoso.com', 'jacob@contoso.com') }),
    ).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(sim.control.chats().count).toBe(0);
    expect(sim.control.requests()[0]).toMatchObject({ status: null, fault: 'before:reset' });
  });

  it('phase after: makes the chat, then answers 500', async () => {
    sim.control.addFault({ match: postChats, phase: 'after', fault: { type: 'status', status: 500 } });
    const reply = await call('POST', '/v1.0/chats', {
      body: groupBody('Made anyway', 'alex@contoso.com', 'jacob@contoso.com'),
    });
    expect([reply.status, reply.body.error.code]).toEqual([500, 'InternalServerError']);
    const [request] = sim.control.requests();
    expect(sim.control.chats().chats).toEqual([
      expect.objectContaining({ topic: 'Made anyway', createdByRequestSeq: request?.seq }),
    ]);
  });

  it('phase after: makes the chat, then resets the connection', async () => {
    sim.control.addFault({ match: postChats, phase: 'after', fault: { type: 'reset' } });
    await expect(
      call('POST', '/v1.0/chats', { body: groupBody('Unheard', 'alex@contoso.com', 'jacob@contoso.com') }),
    ).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(sim.control.chats().count).toBe(1);
    const listed = await call(
      'GET',
      `/v1.0/users/alex@contoso.com/chats?$filter=${encodeURIComponent("topic eq 'Unheard'")}`,
    );
    expect(listed.body.value).toHaveLength(1);
  });

  it('phase after: makes the chat, then holds the answer', async () => {
    sim.control.addFault({ match: postChats, phase: 'after', fault: { type: 'delay', ms: 400 } });
    const pending = call('POST', '/v1.0/chats', {
      body: groupBody('Slow answer', 'alex@contoso.com', 'jacob@contoso.com'),
    });
    await sleep(150);
    expect(sim.control.chats().count).toBe(1);
    expect((await pending).status).toBe(201);
  });

  it('adds, lists and refuses faults over HTTP', async () => {
    const added = await call('POST', '/_sim/faults', {
      body: { match: { pathRegex: '^/v1\\.0/users/' }, count: 3, fault: { type: 'status', status: 504 } },
      token: null,
    });
    expect(added.status).toBe(201);
    expect((await call('GET', '/_sim/faults', { token: null })).body.faults).toEqual([
      expect.objectContaining({ id: added.body.id, remaining: 3 }),
    ]);
    expect((await call('GET', '/v1.0/users/alex@contoso.com/chats')).status).toBe(504);
    expect((await call('DELETE', '/_sim/faults', { token: null })).status).toBe(200);
    expect((await call('GET', '/v1.0/users/alex@contoso.com/chats')).status).toBe(200);
    const bad = await call('POST', '/_sim/faults', { body: { fault: { type: 'status', status: 418 } }, token: null });
    expect([bad.status, bad.body.error]).toEqual([400, expect.stringContaining('fault.status')]);
  });

  it('chaos: seeded random faults repeat for a seed and stop at rate 0', async () => {
    const run = async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 30; i += 1) statuses.push((await call('GET', '/v1.0/chats/x')).status);
      return statuses;
    };
    await call('POST', '/_sim/chaos', { body: { seed: 5, rate: 0.4, kinds: ['503', '502'] }, token: null });
    const first = await run();
    expect(first.filter((s) => s !== 404).length).toBeGreaterThan(3);
    expect(new Set(first)).toEqual(new Set([404, 502, 503]));
    sim.control.setChaos({ seed: 5, rate: 0.4, kinds: ['503', '502'] });
    expect(await run()).toEqual(first);
    sim.control.setChaos({ rate: 0 });
    expect(new Set(await run())).toEqual(new Set([404]));
  });
});

describe('control API read-back over HTTP', () => {
  it('lists requests with seq, path, masked headers and parsed bodies; clears them', async () => {
    const body = groupBody('Logged', 'alex@contoso.com', 'jacob@contoso.com');
    await call('POST', '/v1.0/chats', { body, headers: { 'client-request-id': 'abc' } });
    await call('GET', '/v1.0/users/alex@contoso.com/chats?$top=5');
    const requests = (await call('GET', '/_sim/requests', { token: null })).body;
    expect(requests).toEqual([
      expect.objectContaining({
        seq: expect.any(Number),
        method: 'POST',
        path: '/v1.0/chats',
        body,
        status: 201,
        time: expect.any(String),
      }),
      expect.objectContaining({
        method: 'GET',
        path: '/v1.0/users/alex@contoso.com/chats?$top=5',
        body: null,
        status: 200,
      }),
    ]);
    // The token never appears; only its id (uti), so tests can tell which issued token was sent.
    expect(requests[0].headers).toMatchObject({
      authorization: expect.stringMatching(/^Bearer \[redacted\] uti=[\w-]+$/),
      'client-request-id': 'abc',
    });
    const since = (await call('GET', `/_sim/requests?sinceSeq=${requests[0].seq}`, { token: null })).body;
    expect(since).toHaveLength(1);
    await call('DELETE', '/_sim/requests', { token: null });
    expect((await call('GET', '/_sim/requests', { token: null })).body).toEqual([]);
  });

  it('reports chats and stats, and resets', async () => {
    await call('POST', '/v1.0/chats', { body: groupBody('Counted', 'alex@contoso.com', 'jacob@contoso.com') });
    await call('POST', '/v1.0/chats', { body: oneOnOneBody('alex@contoso.com', 'nobody@contoso.com') });
    const chats = (await call('GET', '/_sim/chats', { token: null })).body;
    expect(chats).toEqual({
      count: 1,
      chats: [
        expect.objectContaining({
          chatType: 'group',
          topic: 'Counted',
          members: [
            { userId: '8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca', roles: ['owner'], tenantId: sim.tenantId },
            { userId: '82fe7758-5bb3-4f0d-a43f-e555fd399c6f', roles: ['owner'], tenantId: sim.tenantId },
          ],
          createdByRequestSeq: expect.any(Number),
        }),
      ],
    });
    const stats = (await call('GET', '/_sim/stats', { token: null })).body;
    expect(stats).toMatchObject({
      chatsCreated: 1,
      throttled: 0,
      requests: { total: 2, byRoute: { 'POST /v1.0/chats': { '201': 1, '404': 1 } } },
    });
    expect((await call('POST', '/_sim/reset', { token: null })).status).toBe(200);
    expect((await call('GET', '/_sim/chats', { token: null })).body).toEqual({ count: 0, chats: [] });
    expect((await call('GET', '/_sim/nope', { token: null })).status).toBe(404);
  });

  it('keeps config across reset unless asked', async () => {
    await call('POST', '/_sim/config', { body: { tenantRps: 3 }, token: null });
    await call('POST', '/_sim/reset', { token: null });
    expect((await call('GET', '/_sim/config', { token: null })).body.tenantRps).toBe(3);
    await call('POST', '/_sim/reset', { body: { config: true }, token: null });
    expect((await call('GET', '/_sim/config', { token: null })).body.tenantRps).toBe(1000);
    expect((await call('POST', '/_sim/config', { body: { tenantRps: -1 }, token: null })).status).toBe(400);
  });
});

describe('the Graph SDK over TLS', () => {
  // In-process, the Graph client's fetch (Node's bundled undici) needs an undici dispatcher to trust a CA, and `undici`
  // is not a dependency; so the SDK runs in a child process that trusts the CA through NODE_EXTRA_CA_CERTS.
  const script = `
    const { ClientSecretCredential } = require('@azure/identity');
    const { Client, ResponseType } = require('@microsoft/microsoft-graph-client');
    const { TokenCredentialAuthenticationProvider } = require('@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials');
    const env = process.env;
    const credential = new ClientSecretCredential(env.SIM_TENANT_ID, env.SIM_CLIENT_ID, env.SIM_CLIENT_SECRET, { authorityHost: env.SIM_URL, disableInstanceDiscovery: true });
    const client = Client.initWithMiddleware({
      authProvider: new TokenCredentialAuthenticationProvider(credential, { scopes: ['${GRAPH_SCOPE}'] }),
      baseUrl: env.SIM_URL,
      customHosts: new Set(['localhost']),
    });
    const bodies = JSON.parse(env.SIM_BODIES);
    async function examples() {
      const out = {};
      for (const [name, body] of Object.entries(bodies)) {
        const raw = await client.api('/chats').responseType(ResponseType.RAW).post(body);
        out[name] = [raw.status, raw.headers.get('location')];
      }
      return out;
    }
    (async () => {
      if (env.SIM_MODE === 'examples') return process.stdout.write(JSON.stringify(await examples()));
      const out = {};
      out.oneOnOne = (await client.api('/chats').post(bodies.oneOnOne)).id;
      out.group = (await client.api('/chats').post(bodies.firstGroup)).id;
      const raw = await client.api('/chats').responseType(ResponseType.RAW).post(bodies.withApp);
      out.accepted = raw.status;
      const location = raw.headers.get('location');
      out.statuses = [];
      // The Location has no version, and operations exist under beta only: the SDK's default v1.0 is refused.
      out.v1Refused = await client.api(location).get().then(() => 'answered', (error) => error.statusCode);
      for (let i = 0; i < 3; i += 1) out.statuses.push((await client.api(location).version('beta').header('Prefer', 'include-unknown-enum-members').get()).status);
      const page = await client.api('/users/jacob@contoso.com/chats').filter("chatType eq 'group'").expand('members').top(1).get();
      out.firstPage = page.value.map((c) => c.id);
      out.nextLink = page['@odata.nextLink'];
      out.secondPage = (await client.api(page['@odata.nextLink']).get()).value.map((c) => c.id);
      // A 503 after Graph made the chat: the default RetryHandler posts again.
      await fetch(env.SIM_URL + '/_sim/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ match: { method: 'POST', pathPrefix: '/v1.0/chats' }, phase: 'after', fault: { type: 'status', status: 503, retryAfter: 0 } }) });
      out.retried = (await client.api('/chats').post(bodies.group)).id;
      process.stdout.write(JSON.stringify(out));
    })().catch((error) => { console.error(error.message); process.exit(3); });`;

  const flowBodies = () => ({
    oneOnOne: fixture('003-example-5.json'),
    firstGroup: fixture('003-example-2.json'),
    withApp: fixture('002-example-3.json'),
    group: groupBody('Twice', 'alex@contoso.com', 'jacob@contoso.com'),
  });

  function runClient(
    extraCa: string | undefined,
    mode: 'flow' | 'examples' = 'flow',
    bodies: Record<string, unknown> = flowBodies(),
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((done) => {
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        SIM_URL: sim.url,
        SIM_TENANT_ID: sim.tenantId,
        SIM_CLIENT_ID: sim.clientId,
        SIM_CLIENT_SECRET: sim.clientSecret,
        SIM_MODE: mode,
        SIM_BODIES: JSON.stringify(bodies),
        ...(extraCa ? { NODE_EXTRA_CA_CERTS: extraCa } : {}),
      };
      const child = spawn(process.execPath, ['-e', script], { cwd: REPO, env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => done({ code, stdout, stderr }));
    });
  }

  it('works from a process trusting the CA through NODE_EXTRA_CA_CERTS: 201, 202 + operation, paging', async () => {
    const caPath = join(tempDir, 'ca.pem');
    writeFileSync(caPath, sim.ca);
    const result = await runClient(caPath);
    expect(result.stderr).toBe('');
    const out = JSON.parse(result.stdout);
    expect(out.oneOnOne).toBe(
      '19:82fe7758-5bb3-4f0d-a43f-e555fd399c6f_8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca@unq.gbl.spaces',
    );
    expect(out.accepted).toBe(202);
    expect(out.v1Refused).toBe(400);
    expect(out.statuses).toEqual(['notStarted', 'inProgress', 'succeeded']);
    expect(out.group).toMatch(/^19:[0-9a-f]{32}@thread\.v2$/);
    expect(out.nextLink.startsWith(sim.url)).toBe(true);
    const groups = sim.control.chats().chats.filter((c) => c.chatType === 'group' && c.topic !== 'Twice');
    expect([...out.firstPage, ...out.secondPage]).toEqual(groups.map((c) => c.id));
    // The SDK's default RetryHandler retried the POST after a 503 that followed creation: two group chats named Twice.
    const twice = sim.control.chats().chats.filter((c) => c.topic === 'Twice');
    expect(twice).toHaveLength(2);
    expect(twice.map((c) => c.id)).toContain(out.retried);
    expect(sim.control.requests().filter((r) => r.fault === 'after:503')).toHaveLength(1);
  });

  it('posts every documented example through the SDK and gets the documented status', async () => {
    const caPath = join(tempDir, 'ca.pem');
    writeFileSync(caPath, sim.ca);
    const bodies = Object.fromEntries(DOC_EXAMPLES.map(([name]) => [name, fixture(name)]));
    const result = await runClient(caPath, 'examples', bodies);
    expect(result.stderr).toBe('');
    const out: Record<string, [number, string | null]> = JSON.parse(result.stdout);
    for (const [name, status] of DOC_EXAMPLES) {
      expect([name, out[name]?.[0]]).toEqual([name, status]);
      if (status === 202) expect(out[name]?.[1]).toMatch(/^\/chats\('19:[^']+'\)\/operations\('[0-9a-f-]+'\)$/);
    }
  });

  it('fails from a process that does not trust the CA', async () => {
    const result = await runClient(undefined);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/endpoints_resolution_error|self[- ]signed|certificate/i);
    expect(sim.control.chats().count).toBe(0);
  });
});

describe('the CLI (dev/simulator/main.ts)', () => {
  it('prints one JSON line, writes the PEM files, serves, and stops cleanly on SIGTERM', async () => {
    // Transpile the simulator so the CLI runs as plain node, the way `node dist/dev/simulator/main.js` does.
    transpileFolders(REPO, ['dev/simulator'], join(tempDir, 'build'));
    const build = join(tempDir, 'build', 'dev', 'simulator');
    const out = join(tempDir, 'cli-out');
    const child = spawn(
      process.execPath,
      [join(build, 'main.js'), '--port', '0', '--seed', '3', '--tenant-rps', '7', '--out', out, '--quiet'],
      {
        env: { PATH: process.env.PATH, NODE_PATH: join(REPO, 'node_modules') },
      },
    );
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    const line = await new Promise<string>((done, fail) => {
      let buffer = '';
      child.stdout.on('data', (d: Buffer) => {
        buffer += d.toString();
        if (buffer.includes('\n')) done(buffer.split('\n')[0] ?? '');
      });
      child.stderr.on('data', (d: Buffer) => fail(new Error(d.toString())));
    });
    const info = JSON.parse(line);
    expect(Object.keys(info).sort()).toEqual(
      ['caPath', 'certificateClientId', 'certificatePath', 'clientId', 'clientSecret', 'tenantId', 'url'].sort(),
    );
    expect(info.url).toMatch(/^https:\/\/localhost:\d+$/);
    expect(readFileSync(info.certificatePath, 'utf8')).toMatch(/BEGIN CERTIFICATE[\s\S]+BEGIN PRIVATE KEY/);
    const cliAgent = new Agent({ ca: readFileSync(info.caPath, 'utf8') });
    try {
      const credential = new ClientSecretCredential(info.tenantId, info.clientId, info.clientSecret, {
        authorityHost: info.url,
        disableInstanceDiscovery: true,
        agent: cliAgent,
      });
      expect((await credential.getToken(GRAPH_SCOPE)).token).toMatch(/^ey/);
      const config = await call('GET', '/_sim/config', { token: null, target: { url: info.url, agent: cliAgent } });
      expect(config.body.tenantRps).toBe(7);
    } finally {
      cliAgent.destroy();
    }
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('--state keeps its port and users across a restart', async () => {
    // Built by the test above (same describe, run in order).
    const main = join(tempDir, 'build', 'dev', 'simulator', 'main.js');
    const state = join(tempDir, 'cli-state', 'state.json');
    const run = async (): Promise<{ url: string; ca: string; stop: () => Promise<number | null> }> => {
      const child = spawn(process.execPath, [main, '--state', state, '--out', join(tempDir, 'cli-out'), '--quiet'], {
        env: { PATH: process.env.PATH, NODE_PATH: join(REPO, 'node_modules') },
      });
      const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
      const line = await new Promise<string>((done, fail) => {
        let buffer = '';
        child.stdout.on('data', (d: Buffer) => {
          buffer += d.toString();
          if (buffer.includes('\n')) done(buffer.split('\n')[0] ?? '');
        });
        child.stderr.on('data', (d: Buffer) => fail(new Error(d.toString())));
      });
      const info = JSON.parse(line) as { url: string; caPath: string };
      return {
        url: info.url,
        ca: readFileSync(info.caPath, 'utf8'),
        stop: () => {
          child.kill('SIGTERM');
          return exited;
        },
      };
    };
    const first = await run();
    const firstAgent = new Agent({ ca: first.ca });
    await call('POST', '/_sim/users', {
      token: null,
      body: { userPrincipalName: 'kept.person@contoso.com' },
      target: { url: first.url, agent: firstAgent },
    });
    firstAgent.destroy();
    expect(await first.stop()).toBe(0);

    const second = await run();
    const secondAgent = new Agent({ ca: second.ca });
    try {
      expect(second.url).toBe(first.url);
      const users = await call('GET', '/_sim/users', { token: null, target: { url: second.url, agent: secondAgent } });
      expect((users.body.users as { userPrincipalName: string }[]).map((u) => u.userPrincipalName)).toContain(
        'kept.person@contoso.com',
      );
    } finally {
      secondAgent.destroy();
      expect(await second.stop()).toBe(0);
    }
  });
});
