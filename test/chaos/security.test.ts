import { randomBytes, randomUUID } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import { createServer, Server } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { devStoreAccount } from '../../dev/azurite';
import { checkCallbackTarget, deliverCallback, guardedLookup } from '../../shared/use-cases/callbacks';
import type { Config } from '../../shared/platform/config';
import type { ChatRequest } from '../../shared/core/model';
import { ChaosReport } from '../support/chaos-report';
import { CHAOS_FUNCTION_KEY, ChaosStack, startChaosStack, waitFor } from '../support/chaos-stack';
import { MemoryRequestStore } from '../support/memory-store';

/**
 * Security: function keys, Standard Webhooks signatures (bad, missing, stale, replayed), user names that try
 * to change the Graph URL, callbacks to private or unlisted hosts, and no secret, token or member address in
 * any line the host process writes during the whole run.
 */

const report = new ChaosReport('security');
const WEBHOOK_SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const CALLBACK_SECRET = `whsec_${randomBytes(24).toString('base64')}`;

let stack: ChaosStack;
/** Every member address used in this file: none may appear in a log line. */
const upns = new Set<string>();
/** A listener on loopback that must never be connected to (callbacks are refused before connecting). */
let trap: Server;
let trapConnections = 0;

beforeAll(async () => {
  stack = await startChaosStack({
    host: 'child',
    env: {
      WEBHOOK_SIGNING_SECRET: WEBHOOK_SECRET,
      CALLBACK_SIGNING_SECRET: CALLBACK_SECRET,
      CALLBACK_ALLOWED_HOSTS: 'hooks.contoso.com',
      ALLOW_LOCALHOST_CALLBACKS: 'false',
      NEW_USER_GRACE_MINUTES: '0.1',
    },
  });
  trap = createServer((socket) => {
    trapConnections += 1;
    socket.destroy();
  });
  await new Promise<void>((done) => trap.listen(0, '127.0.0.1', done));
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await new Promise((done) => trap?.close(done));
  report.print();
});

interface Signed {
  id?: string;
  timestamp?: Date;
  secret?: string;
  /** Sign this text but send `body`. */
  signedBody?: string;
  omit?: ('id' | 'timestamp' | 'signature')[];
}

function signatureHeaders(body: string, options: Signed = {}): Record<string, string> {
  const id = options.id ?? `msg_${randomUUID()}`;
  const timestamp = options.timestamp ?? new Date();
  const signature = new Webhook(options.secret ?? WEBHOOK_SECRET).sign(id, timestamp, options.signedBody ?? body);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': signature,
  };
  for (const name of options.omit ?? []) delete headers[`webhook-${name}`];
  return headers;
}

async function signedPost(
  path: string,
  json: unknown,
  options: Signed & { key?: string | null } = {},
): Promise<Response> {
  const body = JSON.stringify(json);
  const answer = await stack.api(path, {
    method: 'POST',
    body,
    headers: signatureHeaders(body, options),
    key: options.key,
  });
  if (answer.status === 202 && path === '/api/requests')
    created.push(((await answer.clone().json()) as { id: string }).id);
  return answer;
}

let memberSeq = 400_000;
function group(topic: string, first?: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const members = [first, `user${memberSeq++}@contoso.com`, `user${memberSeq++}@contoso.com`].filter((m): m is string =>
    Boolean(m),
  );
  for (const m of members) if (m.includes('@')) upns.add(m);
  return { chatType: 'group', topic, members, ...extra };
}

/** Every request this file created, so a test can wait for the earlier ones before scripting faults. */
const created: string[] = [];

/** Waits until every request created so far is final, so scripted faults meet only the calls a test makes next. */
async function quiet(): Promise<void> {
  for (const id of created) await finalOf(id);
}

async function finalOf(id: string): Promise<Record<string, unknown>> {
  return waitFor(
    `request ${id}`,
    async () => {
      const r = (await (await stack.api(`/api/requests/${id}`)).json()) as { state: string };
      return r.state === 'succeeded' || r.state === 'failed' ? (r as unknown as Record<string, unknown>) : undefined;
    },
    90_000,
    500,
  );
}

describe('security', () => {
  it('every route but health and the OpenAPI document needs a function key', async () => {
    const id = '01900000-0000-7000-8000-000000000000';
    const routes: [string, string][] = [
      ['POST', '/api/requests'],
      ['POST', '/api/requests/batch'],
      ['GET', `/api/requests/${id}`],
      ['GET', '/api/requests'],
      ['POST', `/api/requests/${id}/retry`],
    ];
    const statuses: Record<string, Record<string, number>> = {};
    for (const [method, path] of routes) {
      const body = method === 'POST' ? JSON.stringify(group('chaos nokey')) : undefined;
      const headers = body ? signatureHeaders(body) : {};
      const none = await stack.api(path, { method, body, headers, key: null });
      const wrong = await stack.api(path, { method, body, headers, key: 'not-the-key' });
      const empty = await stack.api(path, { method, body, headers, key: '' });
      const inQuery = await stack.api(`${path}${path.includes('?') ? '&' : '?'}code=wrong`, {
        method,
        body,
        headers,
        key: null,
      });
      statuses[`${method} ${path.replace(id, '{id}')}`] = {
        none: none.status,
        wrong: wrong.status,
        empty: empty.status,
        wrongCode: inQuery.status,
      };
    }
    const health = await stack.api('/api/health', { key: null });
    const openApi = await stack.api('/api/openapi.json', { key: null });
    // The right key in ?code= works too (GET, so no signature is involved).
    const byCode = await stack.api(`/api/requests/${id}?code=${encodeURIComponent(CHAOS_FUNCTION_KEY)}`, { key: null });
    report.set('functionKeys', {
      routes: routes.length,
      statuses,
      health: health.status,
      openApi: openApi.status,
      byCode: byCode.status,
    });
    for (const s of Object.values(statuses)) expect(s).toEqual({ none: 401, wrong: 401, empty: 401, wrongCode: 401 });
    expect(health.status).toBe(200);
    expect(openApi.status).toBe(200);
    expect(byCode.status).toBe(404);
  });

  it('webhook signatures: bad, missing, foreign, altered, stale and replayed deliveries are refused', async () => {
    // Signed POST routes answer 401 to a replayed delivery, and webhook-id is also an idempotency key (same key
    // and payload → 200 Idempotent-Replayed, another payload → 422). Read together: the very same delivery
    // (same webhook-id, same body, valid signature) arriving again inside the ±5-minute window is the
    // sender's retry and answers 200 Idempotent-Replayed with the original request (no second request).
    // A replay an attacker can make is refused: the captured delivery after its window (401, stale), the
    // captured signature under another webhook-id or on another body (401), and the same webhook-id with a
    // different payload signed anew (422, the idempotency rule).
    const now = Date.now();
    const body = group('chaos signed');
    const text = JSON.stringify(body);
    const cases: Record<string, number> = {};
    const refuse = async (name: string, answer: Promise<Response>): Promise<Response> => {
      const r = await answer;
      cases[name] = r.status;
      return r;
    };
    const post = (headers: Record<string, string>, sent = text, path = '/api/requests'): Promise<Response> =>
      stack.api(path, { method: 'POST', body: sent, headers });

    await refuse('no webhook headers', post({ 'content-type': 'application/json' }));
    await refuse('no signature', post(signatureHeaders(text, { omit: ['signature'] })));
    await refuse('no timestamp', post(signatureHeaders(text, { omit: ['timestamp'] })));
    await refuse('no id', post(signatureHeaders(text, { omit: ['id'] })));
    await refuse('garbage signature', post({ ...signatureHeaders(text), 'webhook-signature': 'v1,AAAA' }));
    await refuse(
      'another secret',
      post(signatureHeaders(text, { secret: `whsec_${randomBytes(24).toString('base64')}` })),
    );
    await refuse(
      'body altered after signing',
      post(signatureHeaders(text, { signedBody: JSON.stringify(group('chaos other')) })),
    );
    await refuse('6 minutes old', post(signatureHeaders(text, { timestamp: new Date(now - 6 * 60_000) })));
    await refuse('6 minutes ahead', post(signatureHeaders(text, { timestamp: new Date(now + 6 * 60_000) })));
    const captured = signatureHeaders(text, { timestamp: new Date(now - 4 * 60_000) });
    const first = await refuse('4 minutes old (inside the window)', post(captured));
    const firstId = ((await first.clone().json()) as { id?: string }).id;
    if (firstId) created.push(firstId);
    const replay = await refuse('the same delivery again', post(captured));
    const replayBody = (await replay.clone().json()) as { id?: string };
    await refuse(
      'the captured signature under another webhook-id',
      post({ ...captured, 'webhook-id': `msg_${randomUUID()}` }),
    );
    await refuse('the captured signature on another body', post(captured, JSON.stringify(group('chaos forged'))));
    const otherText = JSON.stringify(group('chaos same id'));
    await refuse(
      'the same webhook-id with another body, signed anew',
      post(signatureHeaders(otherText, { id: captured['webhook-id'] }), otherText),
    );
    const batchText = JSON.stringify({ requests: [group('chaos batch unsigned')] });
    await refuse('batch unsigned', post({ 'content-type': 'application/json' }, batchText, '/api/requests/batch'));
    await refuse(
      'retry unsigned',
      stack.api(`/api/requests/${firstId}/retry`, { method: 'POST', headers: { 'content-type': 'application/json' } }),
    );
    await refuse(
      'valid signature, no function key',
      stack.api('/api/requests', { method: 'POST', body: text, headers: signatureHeaders(text), key: null }),
    );
    const problem = await post({ 'content-type': 'application/json' });

    report.set('webhookSignatures', { cases });
    expect(cases).toEqual({
      'no webhook headers': 401,
      'no signature': 401,
      'no timestamp': 401,
      'no id': 401,
      'garbage signature': 401,
      'another secret': 401,
      'body altered after signing': 401,
      '6 minutes old': 401,
      '6 minutes ahead': 401,
      '4 minutes old (inside the window)': 202,
      'the same delivery again': 200,
      'the captured signature under another webhook-id': 401,
      'the captured signature on another body': 401,
      'the same webhook-id with another body, signed anew': 422,
      'batch unsigned': 401,
      'retry unsigned': 401,
      'valid signature, no function key': 401,
    });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replayBody.id).toBe(firstId);
    expect(problem.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await problem.json()).toMatchObject({ status: 401 });
  });

  it('user names with quotes, percent signs and unicode cannot change the Graph URL or the bind', async () => {
    // Prepare: members the directory knows, whose names try to break out of users('…') or the path.
    const tricky = [
      "o'brien@contoso.com",
      "x'),users('admin@contoso.com",
      "pct%')%zz@contoso.com",
      'ünïcødé.名前@contoso.com',
      "q'';$batch@contoso.com",
    ];
    stack.sim.control.upsertUsers(tricky.map((userPrincipalName) => ({ userPrincipalName })));
    const slash = await signedPost('/api/requests', group('chaos slash', 'a/../b@contoso.com'));
    // A percent-escape in a UPN can only be a mistake or spoofing: refused at intake, naming it.
    const escaped = await signedPost('/api/requests', group('chaos escape', 'pct%27)%2F%2e%2e@contoso.com'));
    const escapedProblem = (await escaped.json()) as { errors?: { message: string }[] };
    await quiet();
    const since = stack.sim.control.requests().at(-1)?.seq ?? 0;
    // Every other POST answer is lost after Graph made the chat: the retry must look the chat up by a member.
    stack.sim.control.addFault({
      match: { method: 'POST', pathPrefix: '/v1.0/chats' },
      phase: 'after',
      count: tricky.length,
      fault: { type: 'status', status: 503 },
    });

    // Act
    const ids: string[] = [];
    for (const [i, user] of tricky.entries()) {
      const answer = await signedPost('/api/requests', group(`chaos upn ${i}`, user));
      expect(answer.status).toBe(202);
      ids.push(((await answer.json()) as { id: string }).id);
    }
    const finals = await Promise.all(ids.map(finalOf));

    // Assess: what Graph received.
    const seen = stack.sim.control.requests(since);
    const posts = seen.filter((r) => r.method === 'POST' && !r.path.includes('/oauth2/'));
    const lookups = seen.filter((r) => r.method === 'GET' && /\/users/.test(r.path));
    const chats = stack.sim.control.chats().chats;
    const users = new Map(stack.sim.control.users().map((u) => [u.userPrincipalName.toLowerCase(), u.id]));
    const problems: string[] = [];
    for (const [i, user] of tricky.entries()) {
      const topic = `chaos upn ${i}`;
      const own = posts.filter((p) => (p.body as { topic?: string }).topic === topic);
      for (const p of own) {
        if (p.path !== '/v1.0/chats') problems.push(`${user}: POST to ${p.path}`);
        const binds = (p.body as { members: Record<string, string>[] }).members.map((m) => m['user@odata.bind']);
        if (binds[0] !== `https://graph.microsoft.com/v1.0/users('${user.replace(/'/g, "''")}')`)
          problems.push(`${user}: bind ${binds[0]}`);
      }
      const chat = chats.filter((c) => c.topic === topic);
      if (chat.length !== 1) problems.push(`${user}: ${chat.length} chats`);
      else if (!chat[0]!.members.some((m) => m.userId === users.get(user.toLowerCase())))
        problems.push(`${user}: the chat's members are not the named user`);
      const lookup = lookups.find(
        (l) => decodeURIComponent(/^\/v1\.0\/users\/([^/?#]+)\/chats\?/.exec(l.path)?.[1] ?? '') === user.toLowerCase(),
      );
      if (!lookup)
        problems.push(
          `${user}: no lookup at /v1.0/users/{encoded}/chats (saw ${lookups.map((l) => l.path.split('?')[0]).join(', ')})`,
        );
    }
    report.set('upnInjection', {
      users: tricky.length,
      posts: posts.length,
      lookups: lookups.length,
      states: finals.map((f) => f.state),
      slashStatus: slash.status,
      escapedStatus: escaped.status,
      problems: problems.length,
    });
    expect(slash.status).toBe(400);
    expect(escaped.status).toBe(400);
    expect(escapedProblem.errors?.[0]?.message).toMatch(/percent-escape "%27"/);
    expect(problems).toEqual([]);
    expect(finals.map((f) => f.state)).toEqual(tricky.map(() => 'succeeded'));
  }, 180_000);

  // Found by this suite: a member named "." or ".." passed intake, and the recovery lookup's
  // `/users/${encodeURIComponent(user)}/chats` was resolved by the URL parser to /v1.0/chats. Intake refuses
  // such members now, and the lookup encodes a dots-only segment.
  it('a member named "." or ".." cannot move the recovery lookup off /users/{id}/chats', async () => {
    const since = stack.sim.control.requests().at(-1)?.seq ?? 0;
    stack.sim.control.addFault({
      match: { method: 'POST', pathPrefix: '/v1.0/chats' },
      phase: 'after',
      count: 2,
      fault: { type: 'status', status: 503 },
    });
    const paths: string[] = [];
    const statuses: number[] = [];
    for (const [i, dots] of ['..', '.'].entries()) {
      const answer = await signedPost('/api/requests', group(`chaos dots ${i}`, dots));
      statuses.push(answer.status);
      if (answer.status !== 202) continue;
      const { id } = (await answer.json()) as { id: string };
      await finalOf(id).catch(() => undefined);
    }
    for (const r of stack.sim.control.requests(since))
      if (r.method === 'GET' && /^\/(v1\.0|beta)\//.test(r.path) && !r.path.includes('/operations'))
        paths.push(r.path.split('?')[0]!);
    report.set('dotSegments', { intakeStatuses: statuses, graphGets: paths });
    // Either refused at intake (400), or every GET Graph saw is a member's chats.
    for (const path of paths) expect(path).toMatch(/^\/v1\.0\/users\/[^/]+\/chats$/);
    expect(statuses.every((s) => s === 400 || s === 202)).toBe(true);
    expect(paths.length + statuses.filter((s) => s === 400).length).toBeGreaterThan(0);
  }, 120_000);

  it('callbacks to private addresses and unlisted hosts are refused before any connection', async () => {
    // Prepare: the decision itself, with a resolver the test controls (no DNS, no traffic).
    const config: Config['callback'] = {
      allowedHosts: ['hooks.contoso.com', '*.partner.example'],
      allowLocalhost: false,
    };
    const resolveTo =
      (...addresses: string[]) =>
      async (): Promise<string[]> =>
        addresses;
    const decisions: Record<string, boolean> = {};
    const decide = async (url: string, addresses: string[] = ['20.30.40.50']): Promise<void> => {
      decisions[url + (addresses.join() === '20.30.40.50' ? '' : ` → ${addresses.join(',')}`)] = (
        await checkCallbackTarget(url, config, resolveTo(...addresses))
      ).ok;
    };
    await decide('https://hooks.contoso.com/chat');
    await decide('https://a.partner.example/chat');
    await decide('https://evil.example/chat');
    await decide('https://hooks.contoso.com.evil.example/chat');
    await decide('https://evilpartner.example/chat');
    await decide('http://hooks.contoso.com/chat');
    await decide('https://user:pass@hooks.contoso.com/chat');
    for (const address of [
      '10.0.0.5',
      '127.0.0.1',
      '169.254.169.254',
      '172.16.0.1',
      '192.168.1.1',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:10.0.0.5',
      '::ffff:a00:5',
      '64:ff9b::a00:5',
    ])
      await decide('https://hooks.contoso.com/chat', [address]);
    await decide('https://hooks.contoso.com/chat', ['20.30.40.50', '10.0.0.5']);
    await decide('https://127.0.0.1/chat');
    await decide('https://2130706433/chat');
    await decide('https://0x7f.1/chat');
    await decide('https://[::1]/chat');
    await decide('https://localhost/chat');

    // DNS rebinding: the connect-time lookup checks the addresses the socket would use.
    const rebound = await new Promise<string>((done) =>
      guardedLookup(false, async (): Promise<LookupAddress[]> => [{ address: '10.0.0.5', family: 4 }])(
        'hooks.contoso.com',
        { all: true },
        (error) => done(error ? String((error as Error & { code?: string }).code) : 'connected'),
      ),
    );

    // A refused delivery never reaches fetch.
    const store = new MemoryRequestStore();
    const request = {
      id: '01900000-0000-7000-8000-0000000000aa',
      state: 'succeeded',
      chatType: 'group',
      members: [],
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
      attempts: 1,
      graphBody: { chatType: 'group', members: [] },
      payloadHash: 'x',
      callback: { url: 'https://hooks.contoso.com/chat', state: 'pending', attempts: 0 },
    } as unknown as ChatRequest;
    const stored = await store.create(request);
    let fetched = 0;
    const outcome = await deliverCallback(stored, {
      store,
      config,
      log: () => undefined,
      resolve: resolveTo('169.254.169.254'),
      fetch: (async () => {
        fetched += 1;
        return new Response(null, { status: 204 });
      }) as typeof fetch,
    });

    // End to end: callbacks to private literals and an unlisted name, from the real host (no DNS is needed
    // for any of them); the loopback one points at a listener that counts connections.
    const port = (trap.address() as { port: number }).port;
    const targets = [
      `https://127.0.0.1:${port}/hook`,
      `https://[::1]:${port}/hook`,
      'https://10.0.0.5/hook',
      'https://169.254.169.254/latest/meta-data',
      'https://evil.example/hook',
    ];
    const ids: string[] = [];
    for (const [i, callbackUrl] of targets.entries()) {
      const answer = await signedPost('/api/requests', group(`chaos callback ${i}`, undefined, { callbackUrl }));
      expect(answer.status).toBe(202);
      ids.push(((await answer.json()) as { id: string }).id);
    }
    const callbacks = await Promise.all(
      ids.map((id) =>
        waitFor(
          `the callback of ${id}`,
          async () => {
            const r = (await (await stack.api(`/api/requests/${id}`)).json()) as {
              callback?: { state: string; lastError?: string };
            };
            return r.callback && r.callback.state !== 'pending' ? r.callback : undefined;
          },
          90_000,
          500,
        ),
      ),
    );

    // Assess
    const allowed = Object.entries(decisions)
      .filter(([, ok]) => ok)
      .map(([url]) => url);
    report.set('callbacks', {
      decisions: Object.keys(decisions).length,
      allowed,
      rebinding: rebound,
      fetchCallsWhenRefused: fetched,
      endToEnd: callbacks.map((c, i) => `${targets[i]!.replace(String(port), 'PORT')}: ${c.state}`),
      trapConnections,
    });
    expect(allowed).toEqual(['https://hooks.contoso.com/chat', 'https://a.partner.example/chat']);
    expect(rebound).toBe('ECALLBACKREFUSED');
    expect(outcome?.state).toBe('failed');
    expect(fetched).toBe(0);
    for (const c of callbacks)
      expect(c).toMatchObject({ state: 'failed', lastError: expect.stringMatching(/^refused/) });
    expect(trapConnections).toBe(0);
  }, 180_000);

  it('a full run writes no secret, token or member address to any log line', async () => {
    // Prepare: one more of everything that logs: a plain success, a retried one, a permanent failure, an
    // operator's retry, a throttled call and a token refresh.
    stack.sim.control.configure({ tokenLifetimeSeconds: 60 });
    await quiet();
    stack.sim.control.addFault({
      match: { method: 'POST', pathPrefix: '/v1.0/chats' },
      fault: { type: 'status', status: 429, retryAfter: 1 },
    });
    stack.sim.control.addFault({
      match: { method: 'POST', pathPrefix: '/v1.0/chats' },
      phase: 'after',
      fault: { type: 'status', status: 500 },
    });
    const bodies = [
      group('chaos logs ok'),
      group('chaos logs retried'),
      group('chaos logs unlicensed', 'unlicensed7@contoso.com'),
    ];
    const ids: string[] = [];
    for (const body of bodies)
      ids.push(((await (await signedPost('/api/requests', body)).json()) as { id: string }).id);
    const finals = await Promise.all(ids.map(finalOf));
    const failed = ids[finals.findIndex((f) => f.state === 'failed')];
    if (failed) {
      await signedPost(`/api/requests/${failed}/retry`, {});
      await finalOf(failed);
    }
    await new Promise((r) => setTimeout(r, 2_000));

    // Act: everything the host process wrote, stdout and stderr, from its start.
    const text = stack.logs.join('\n');
    const lower = text.toLowerCase();
    const secrets: Record<string, string> = {
      'Graph client secret': stack.sim.clientSecret,
      'function key': CHAOS_FUNCTION_KEY,
      'webhook signing secret': WEBHOOK_SECRET.slice('whsec_'.length),
      'callback signing secret': CALLBACK_SECRET.slice('whsec_'.length),
      'storage account key': devStoreAccount.key,
    };
    const leaks: string[] = [];
    for (const [name, value] of Object.entries(secrets)) if (text.includes(value)) leaks.push(name);
    if (/bearer\s+[a-z0-9._-]{8,}/i.test(text)) leaks.push('a bearer token');
    if (/eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\./.test(text)) leaks.push('a JWT');
    const addresses = [...upns].filter((upn) => lower.includes(upn.toLowerCase()));

    // Assess
    report.set('logs', {
      lines: stack.logs.length,
      secretsChecked: Object.keys(secrets).length + 2,
      membersChecked: upns.size,
      leaks: leaks.length,
      memberAddressesInLogs: addresses.length,
      finalStates: finals.map((f) => f.state),
    });
    expect(stack.logs.length).toBeGreaterThan(100);
    expect(leaks).toEqual([]);
    expect(addresses).toEqual([]);
  }, 180_000);
});
