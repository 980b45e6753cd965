/**
 * Callbacks against a real receiver on 127.0.0.1 (plain http to loopback, allowed only with
 * ALLOW_LOCALHOST_CALLBACKS in the local run), with rows in Azurite and chats made by the simulator.
 * The receiver verifies Standard Webhooks signatures and dedupes by webhook-id. Refusals of other
 * hosts and private addresses are checked with an injected resolver and a recording fetch: no test
 * sends traffic to anything but loopback.
 */
import { randomBytes } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import {
  checkCallbackTarget,
  deliverCallback,
  deliverDueCallbacks,
  deliverOnFinal,
  guardedLookup,
  isPrivateAddress,
} from '../../shared/use-cases/callbacks';
import { Config, loadConfig } from '../../shared/platform/config';
import { jsonLogger } from '../../shared/platform/log';
import { ChatRequest, State } from '../../shared/core/model';
import { failPoisoned } from '../../shared/use-cases/poison';
import { CALLBACK_HANDOVER_MS, transition } from '../../shared/core/request-store';
import { buildServices, Services } from '../../shared/platform/composition-root';
import { processRequestMessage } from '../../shared/use-cases/worker';
import { startStack, Stack } from '../support/stack';
import { testRequest } from '../support/requests';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

interface Delivery {
  id: string;
  timestamp: string;
  verified: boolean;
  body: { type: string; timestamp: string; data: ChatRequest & { callback?: unknown } };
}

/** A webhook receiver: answers the scripted statuses in turn (then 200), verifies every signature. */
class Receiver {
  readonly deliveries: Delivery[] = [];
  script: number[] = [];
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    const webhook = new Webhook(SECRET);
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let verified = true;
        try {
          webhook.verify(text, {
            'webhook-id': String(req.headers['webhook-id']),
            'webhook-timestamp': String(req.headers['webhook-timestamp']),
            'webhook-signature': String(req.headers['webhook-signature']),
          });
        } catch {
          verified = false;
        }
        this.deliveries.push({
          id: String(req.headers['webhook-id']),
          timestamp: String(req.headers['webhook-timestamp']),
          verified,
          body: JSON.parse(text),
        });
        res.statusCode = verified ? (this.script.shift() ?? 200) : 401;
        res.end();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks/chats`;
  }

  /** What a receiver that dedupes by webhook-id processed. */
  events(): Delivery[] {
    const seen = new Set<string>();
    return this.deliveries.filter((d) => d.verified && !seen.has(d.id) && seen.add(d.id));
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

let stack: Stack;
let svc: Services;
let receiver: Receiver;
const lines: string[] = [];
const log = jsonLogger((_level, line) => lines.push(line));

beforeAll(async () => {
  stack = await startStack({ host: false, simulator: { tenantRps: 1000 } });
  svc = buildServices(
    loadConfig({
      ...stack.env,
      CHAT_REQUESTS_QUEUE: 'callbacks',
      CHAT_REQUESTS_TABLE: 'Callbacks',
      CALLBACK_SIGNING_SECRET: SECRET,
      CALLBACK_ALLOWED_HOSTS: 'hooks.contoso.com,*.fabrikam.com',
      ALLOW_LOCALHOST_CALLBACKS: 'true',
    }),
  );
  await svc.ready();
  receiver = new Receiver();
  await receiver.start();
});
afterAll(async () => {
  await receiver?.stop();
  await stack?.stop();
});
beforeEach(() => {
  receiver.deliveries.length = 0;
  receiver.script = [];
});

/** A queued request with a callback to `url` (seeded directly: intake's own rules are tested elsewhere). */
async function seed(url: string, topic = 'Callback'): Promise<ChatRequest> {
  const request = testRequest({
    chatType: 'group',
    topic,
    members: ['user1@contoso.com', 'user2@contoso.com', 'user3@contoso.com'],
  });
  request.callback = { url, state: 'pending', attempts: 0 };
  await svc.store.create(request);
  return request;
}

/** Runs the worker on it: Graph (the simulator) makes the chat, and the final state fires the callback. */
async function provision(request: ChatRequest, now = () => new Date()): Promise<string> {
  return processRequestMessage(
    { id: request.id, attempt: 0 },
    {
      store: svc.store,
      queue: svc.queue,
      graph: svc.graph,
      gate: svc.gate,
      graceMinutes: 240,
      log,
      now,
      onFinal: deliverOnFinal(svc, log, { now }),
    },
  );
}

const row = async (id: string) => (await svc.store.get(id))!.value;

describe('callbacks to a test receiver', () => {
  it('a final state is POSTed once, signed (Standard Webhooks), with the resource; delivery state in the row', async () => {
    const request = await seed(receiver.url, 'Signed');
    expect(await provision(request)).toBe('succeeded');

    const [delivery, ...more] = receiver.deliveries;
    expect(more).toEqual([]);
    expect(delivery!.verified).toBe(true);
    expect(delivery!.id).toBe(`${request.id}.succeeded.1`);
    expect(delivery!.body.type).toBe('chat.provisioned');
    expect(delivery!.body.data).toMatchObject({ id: request.id, state: 'succeeded', chat: { id: expect.any(String) } });
    expect(delivery!.body.data).not.toHaveProperty('graphBody');
    expect(Math.abs(Number(delivery!.timestamp) - Date.now() / 1000)).toBeLessThan(300);
    expect((await row(request.id)).callback).toEqual({ url: receiver.url, state: 'delivered', attempts: 1 });
    // Delivered: the timer has nothing more to do for it.
    expect(await deliverDueCallbacks({ store: svc.store, config: svc.config.callback, log }, 50)).toBe(0);
    expect(await svc.store.listDueCallbacks(new Date(Date.now() + 3600_000), 50)).not.toContain(request.id);
  });

  it('receiver answers 500 twice, then 200: retried with backoff, same webhook-id, one event', async () => {
    receiver.script = [500, 500];
    const request = await seed(receiver.url, 'Retried');
    const clock = { ms: Date.now() };
    const now = () => new Date(clock.ms);
    expect(await provision(request, now)).toBe('succeeded');

    // First try failed: pending, with the next try scheduled, shown in the resource.
    const first = (await row(request.id)).callback!;
    expect(first).toMatchObject({ state: 'pending', attempts: 1, lastError: 'receiver answered 500' });
    const firstDelay = Date.parse(first.nextAttemptAt!) - clock.ms;
    expect(firstDelay).toBeGreaterThan(0);

    // Not due yet: the timer leaves it.
    const deps = { store: svc.store, config: svc.config.callback, log, now, random: () => 0.5 };
    expect(await deliverDueCallbacks(deps)).toBe(0);
    expect(receiver.deliveries).toHaveLength(1);

    clock.ms = Date.parse(first.nextAttemptAt!);
    expect(await deliverDueCallbacks(deps)).toBe(1);
    const second = (await row(request.id)).callback!;
    expect(second).toMatchObject({ state: 'pending', attempts: 2 });
    expect(Date.parse(second.nextAttemptAt!) - clock.ms).toBeGreaterThan(firstDelay);

    clock.ms = Date.parse(second.nextAttemptAt!);
    expect(await deliverDueCallbacks(deps)).toBe(1);
    expect((await row(request.id)).callback).toEqual({ url: receiver.url, state: 'delivered', attempts: 3 });

    // Later ticks send nothing more.
    clock.ms += 24 * 3600_000;
    expect(await deliverDueCallbacks(deps)).toBe(0);

    expect(receiver.deliveries).toHaveLength(3);
    expect(new Set(receiver.deliveries.map((d) => d.id))).toEqual(new Set([`${request.id}.succeeded.1`]));
    expect(receiver.deliveries.every((d) => d.verified)).toBe(true);
    expect(receiver.events()).toHaveLength(1);
  });

  it('two timer ticks at once deliver a due callback once', async () => {
    receiver.script = [503];
    const request = await seed(receiver.url, 'Overlap');
    const clock = { ms: Date.now() };
    const now = () => new Date(clock.ms);
    await provision(request, now);
    clock.ms = Date.parse((await row(request.id)).callback!.nextAttemptAt!);
    const deps = { store: svc.store, config: svc.config.callback, log, now };
    await Promise.all([deliverDueCallbacks(deps), deliverDueCallbacks(deps), deliverDueCallbacks(deps)]);
    expect(receiver.deliveries).toHaveLength(2);
    expect((await row(request.id)).callback).toMatchObject({ state: 'delivered', attempts: 2 });
  });

  it('a callback lost with its process (crash after the final write) is delivered by the timer', async () => {
    const request = await seed(receiver.url, 'Lost');
    const clock = { ms: Date.now() };
    // The worker finishes without its immediate try (as if the process died right after the write).
    await processRequestMessage(
      { id: request.id, attempt: 0 },
      {
        store: svc.store,
        queue: svc.queue,
        graph: svc.graph,
        gate: svc.gate,
        graceMinutes: 240,
        log,
        now: () => new Date(clock.ms),
      },
    );
    expect(receiver.deliveries).toHaveLength(0);
    const deps = { store: svc.store, config: svc.config.callback, log, now: () => new Date(clock.ms) };
    expect(await deliverDueCallbacks(deps)).toBe(0);
    clock.ms += CALLBACK_HANDOVER_MS;
    expect(await deliverDueCallbacks(deps)).toBe(1);
    expect(receiver.events().map((e) => e.id)).toEqual([`${request.id}.succeeded.1`]);
  });

  it('each final state is its own event: failed (poison), then an operator retry, then provisioned', async () => {
    const request = await seed(receiver.url, 'Two events');
    const onFinal = deliverOnFinal(svc, log);
    expect(await failPoisoned({ id: request.id, attempt: 0 }, { store: svc.store, log, onFinal })).toBe('failed');
    const failed = (await svc.store.get(request.id))!;
    expect(failed.value.callback).toMatchObject({ state: 'delivered', attempts: 1 });
    // What POST /api/requests/{id}/retry does.
    await transition(svc.store, failed, State.queued, { nextAttemptAt: undefined }, new Date());
    expect(await provision(request)).toBe('succeeded');

    const events = receiver.events();
    expect(events.map((e) => [e.body.type, e.body.data.state])).toEqual([
      ['chat.failed', 'failed'],
      ['chat.provisioned', 'succeeded'],
    ]);
    expect(events[0]!.body.data.error).toMatchObject({ code: 'PoisonMessage' });
    expect(events[0]!.id).not.toBe(events[1]!.id);
    expect((await row(request.id)).callback).toEqual({ url: receiver.url, state: 'delivered', attempts: 1 });
  });

  it('gives up after a day of failures and says so in the resource', async () => {
    receiver.script = [500, 500];
    const request = await seed(receiver.url, 'Gives up');
    const clock = { ms: Date.now() };
    const now = () => new Date(clock.ms);
    await provision(request, now);
    clock.ms += 24 * 3600_000 + 1000;
    await deliverDueCallbacks({ store: svc.store, config: svc.config.callback, log, now });
    const callback = (await row(request.id)).callback!;
    expect(callback).toMatchObject({ state: 'failed', attempts: 2 });
    expect(callback.lastError).toMatch(/receiver answered 500 \(gave up after 24 hours\)/);
  });

  it('logs name the request and event, never the secret or the body', async () => {
    const all = lines.join('\n');
    expect(all).toContain('"event":"callback.delivered"');
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain(SECRET.slice('whsec_'.length));
    expect(all).not.toMatch(/@contoso\.com/);
  });
});

describe('callback targets: refused before connecting', () => {
  const production: Config['callback'] = {
    signingSecret: SECRET,
    allowedHosts: ['hooks.contoso.com', '*.fabrikam.com'],
    allowLocalhost: false,
  };
  const resolvesTo =
    (...addresses: string[]) =>
    async () =>
      addresses;

  /** A fetch that records and never touches the network. */
  function recordingFetch() {
    const calls: string[] = [];
    const fake = (async (url: URL | string) => {
      calls.push(String(url));
      return new Response(null, { status: 200 });
    }) as typeof fetch;
    return { calls, fake };
  }

  async function finalWithCallback(url: string): Promise<ChatRequest> {
    const request = await seed(url, 'Target');
    const stored = (await svc.store.get(request.id))!;
    const creating = await transition(svc.store, stored, State.creating, { attempts: 1 }, new Date());
    const done = await transition(svc.store, creating, State.succeeded, { chat: { id: '19:x@thread.v2' } }, new Date());
    return done.value;
  }

  it.each([
    [
      'a host not in CALLBACK_ALLOWED_HOSTS',
      'https://evil.example.com/hook',
      ['93.184.215.14'],
      /not in CALLBACK_ALLOWED_HOSTS/,
    ],
    [
      'an allowed host resolving to a private address',
      'https://hooks.contoso.com/hook',
      ['10.0.0.5'],
      /private or local/,
    ],
    [
      'an allowed host with one private address among public ones',
      'https://a.fabrikam.com/x',
      ['20.1.2.3', '192.168.1.9'],
      /private/,
    ],
    [
      'an allowed host resolving to IPv4-mapped IPv6 of a private address',
      'https://hooks.contoso.com/h',
      ['::ffff:a00:5'],
      /private/,
    ],
    [
      'an allowed host resolving to link-local (cloud metadata)',
      'https://hooks.contoso.com/h',
      ['169.254.169.254'],
      /private/,
    ],
    ['an allowed host resolving to IPv6 unique-local', 'https://hooks.contoso.com/h', ['fd00::1'], /private/],
    ['an allowed host resolving to loopback', 'https://hooks.contoso.com/h', ['127.0.0.1'], /private/],
    ['plain http to an allowed host', 'http://hooks.contoso.com/hook', ['20.1.2.3'], /only https/],
    ['http to loopback outside the local run', 'http://127.0.0.1:9/hook', ['127.0.0.1'], /only https/],
    ['a URL with credentials', 'https://user:pw@hooks.contoso.com/hook', ['20.1.2.3'], /credentials/],
  ])('%s', async (_name, url, addresses, reason) => {
    const request = await finalWithCallback(url);
    const { calls, fake } = recordingFetch();
    const stored = (await svc.store.get(request.id))!;

    const result = await deliverCallback(stored, {
      store: svc.store,
      config: production,
      log,
      resolve: resolvesTo(...addresses),
      fetch: fake,
    });

    expect(calls).toEqual([]);
    expect(result).toMatchObject({ state: 'failed', attempts: 0 });
    expect(result!.lastError).toMatch(/^refused: /);
    expect(result!.lastError).toMatch(reason);
    expect((await row(request.id)).callback).toMatchObject({ state: 'failed', lastError: result!.lastError });
  });

  it('an allowed https host with public addresses is called (with the recording fetch)', async () => {
    const request = await finalWithCallback('https://hooks.contoso.com/chats');
    const { calls, fake } = recordingFetch();
    const result = await deliverCallback((await svc.store.get(request.id))!, {
      store: svc.store,
      config: production,
      log,
      resolve: resolvesTo('20.1.2.3', '2603:1030::5'),
      fetch: fake,
    });
    expect(calls).toEqual(['https://hooks.contoso.com/chats']);
    expect(result).toEqual({ url: 'https://hooks.contoso.com/chats', state: 'delivered', attempts: 1 });
  });

  it('the connect-time lookup refuses a host that now resolves to a private address (DNS rebinding)', async () => {
    const lookup = guardedLookup(false, async () => [{ address: '10.0.0.5', family: 4 }]);
    const error = await new Promise<Error | null>((resolve) => lookup('hooks.contoso.com', {}, (e) => resolve(e)));
    expect(error?.message).toMatch(/refused: hooks\.contoso\.com resolves to a private or local address/);
    const ok = guardedLookup(false, async () => [{ address: '20.1.2.3', family: 4 }]);
    const address = await new Promise((resolve) => ok('hooks.contoso.com', {}, (_e, a) => resolve(a)));
    expect(address).toBe('20.1.2.3');
    const local = guardedLookup(true, async () => [{ address: '127.0.0.1', family: 4 }]);
    const all = await new Promise((resolve) => local('localhost', { all: true }, (_e, a) => resolve(a)));
    expect(all).toEqual([{ address: '127.0.0.1', family: 4 }]);
  });

  it('isPrivateAddress covers the notations an attacker would try', () => {
    for (const address of [
      '10.0.0.5',
      '::ffff:10.0.0.5',
      '::ffff:a00:5',
      '0.0.0.0',
      '::',
      '::1',
      '100.64.0.1',
      '64:ff9b::a00:5',
      '2002:a00:5::1',
      'fe80::1%eth0',
      'not-an-ip',
    ])
      expect({ address, private: isPrivateAddress(address) }).toEqual({ address, private: true });
    for (const address of ['20.1.2.3', '::ffff:8.8.8.8', '2603:1030::5'])
      expect({ address, private: isPrivateAddress(address) }).toEqual({ address, private: false });
  });

  it('checkCallbackTarget: wildcard allow-list entries match subdomains only', async () => {
    expect(await checkCallbackTarget('https://a.fabrikam.com/x', production, resolvesTo('20.1.2.3'))).toMatchObject({
      ok: true,
    });
    expect(await checkCallbackTarget('https://fabrikam.com/x', production, resolvesTo('20.1.2.3'))).toMatchObject({
      ok: false,
    });
    expect(await checkCallbackTarget('https://evilfabrikam.com/x', production, resolvesTo('20.1.2.3'))).toMatchObject({
      ok: false,
    });
  });
});
