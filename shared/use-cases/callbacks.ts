import type { LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { Agent as UndiciAgent } from 'undici';
import type { Config } from '../platform/config';
import { isLoopbackHost } from '../platform/config';
import { backoff } from '../core/graph-retry-policy';
import type { Logger } from '../platform/log';
import { CallbackStatus, ChatRequest, isFinal, State, toResource } from '../core/model';
import { lostRace, RequestStore, Stored } from '../core/request-store';
import { signWebhook } from '../http/webhook-signature';

/**
 * Callbacks: when a request with `callbackUrl` reaches a final state, its resource is POSTed there as
 * `{type: "chat.provisioned" | "chat.failed", data}`, signed with Standard Webhooks. `webhook-id` is
 * stable per event (request id + final state + attempt) so receivers can deduplicate across our retries.
 * Retried with backoff for a day; the delivery state shows in the resource. Only https hosts listed
 * in CALLBACK_ALLOWED_HOSTS are called, and never a private address (checked before connecting).
 */

export const CALLBACK_RETRY_WINDOW_MS = 24 * 3600_000;
const CALLBACK_TIMEOUT_MS = 10_000;
const CALLBACK_BASE_MS = 10_000;
const CALLBACK_CAP_MS = 60 * 60_000;

export type TargetCheck = { ok: true; url: URL } | { ok: false; reason: string };
export type Resolver = (host: string) => Promise<string[]>;

const defaultResolver: Resolver = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

/** Where a callback may never go: private, loopback, link-local, CGNAT, documentation, multicast, reserved. */
const BLOCKED = (() => {
  const list = new BlockList();
  const v4: [string, number][] = [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.0.2.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['224.0.0.0', 4],
    ['240.0.0.0', 4],
  ];
  // IPv4 rules also match IPv4-mapped IPv6 (::ffff:10.0.0.5, ::ffff:a00:5).
  for (const [net, prefix] of v4) list.addSubnet(net, prefix, 'ipv4');
  const v6: [string, number][] = [
    ['::', 96], // unspecified, loopback, IPv4-compatible
    ['64:ff9b::', 96], // NAT64: embeds an IPv4 address
    ['64:ff9b:1::', 48],
    ['100::', 64],
    ['2001::', 32], // Teredo
    ['2001:db8::', 32],
    ['2002::', 16], // 6to4: embeds an IPv4 address
    ['fc00::', 7],
    ['fe80::', 10],
    ['fec0::', 10],
    ['ff00::', 8],
  ];
  for (const [net, prefix] of v6) list.addSubnet(net, prefix, 'ipv6');
  return list;
})();

/** True for any address a callback must not reach (private, loopback, link-local, …), IPv4 or IPv6 in any notation. */
export function isPrivateAddress(address: string): boolean {
  const ip = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(ip);
  if (family === 0) return true;
  return BLOCKED.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

export function hostAllowed(host: string, allowed: string[]): boolean {
  const name = host.toLowerCase();
  return allowed.some((pattern) => (pattern.startsWith('*.') ? name.endsWith(pattern.slice(1)) : name === pattern));
}

/** Decides whether a callback URL may be called, resolving the host first: refusal happens before any connection. */
export async function checkCallbackTarget(
  raw: string,
  config: Config['callback'],
  resolve: Resolver = defaultResolver,
): Promise<TargetCheck> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'not a URL' };
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const localRun = config.allowLocalhost && isLoopbackHost(host);
  if (url.protocol !== 'https:' && !(localRun && url.protocol === 'http:'))
    return { ok: false, reason: 'only https callbacks are allowed' };
  if (url.username || url.password) return { ok: false, reason: 'callback URLs may not carry credentials' };
  if (localRun) return { ok: true, url };
  if (!hostAllowed(host, config.allowedHosts) && !hostAllowed(url.host, config.allowedHosts))
    return { ok: false, reason: `host ${host} is not in CALLBACK_ALLOWED_HOSTS` };
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : await resolve(host);
  } catch {
    return { ok: false, reason: `host ${host} does not resolve` };
  }
  if (addresses.length === 0 || addresses.some(isPrivateAddress)) {
    return { ok: false, reason: `host ${host} resolves to a private or local address` };
  }
  return { ok: true, url };
}

export interface CallbackDeps {
  store: RequestStore;
  config: Config['callback'];
  log: Logger;
  now?: () => Date;
  random?: () => number;
  resolve?: Resolver;
  fetch?: typeof fetch;
}

/** One event per final state reached: the webhook-id stays the same across delivery retries. */
export function eventOf(request: ChatRequest): { id: string; type: 'chat.provisioned' | 'chat.failed' } {
  const type = request.state === State.succeeded ? 'chat.provisioned' : 'chat.failed';
  return { id: `${request.id}.${request.state}.${request.attempts}`, type };
}

/** A delivery in progress holds the callback this long, so an overlapping timer tick does not send it too. */
const CLAIM_MS = CALLBACK_TIMEOUT_MS + 5_000;

/**
 * One delivery attempt for a final request whose callback is pending and due. The attempt is
 * claimed with a conditional write before the POST (two ticks cannot both send it) and its outcome
 * recorded on the row: delivered, pending with the next try, or failed.
 */
export async function deliverCallback(
  stored: Stored<ChatRequest>,
  deps: CallbackDeps,
): Promise<CallbackStatus | undefined> {
  const request = stored.value;
  const callback = request.callback;
  const now = (deps.now ?? (() => new Date()))();
  if (!callback || callback.state !== 'pending' || !isFinal(request.state)) return callback;
  if (callback.nextAttemptAt && Date.parse(callback.nextAttemptAt) > now.getTime()) return callback;

  const target = await checkCallbackTarget(callback.url, deps.config, deps.resolve);
  if (!target.ok) {
    const refused: CallbackStatus = {
      url: callback.url,
      state: 'failed',
      attempts: callback.attempts,
      lastError: `refused: ${target.reason}`,
    };
    deps.log('warn', 'callback.refused', { requestId: request.id, attempt: request.attempts, reason: target.reason });
    return record(stored, refused, deps);
  }

  const attempts = callback.attempts + 1;
  let claimed: Stored<ChatRequest>;
  try {
    claimed = await deps.store.replace(
      stored,
      withCallback(request, { ...callback, attempts, nextAttemptAt: new Date(now.getTime() + CLAIM_MS).toISOString() }),
    );
  } catch (error) {
    if (lostRace(error)) return error.current?.value.callback;
    throw error;
  }

  const failure = await post(target.url, request, deps);
  let next: CallbackStatus;
  if (!failure) next = { url: callback.url, state: 'delivered', attempts };
  else if (now.getTime() - Date.parse(request.updatedAt) > CALLBACK_RETRY_WINDOW_MS)
    next = { url: callback.url, state: 'failed', attempts, lastError: `${failure} (gave up after 24 hours)` };
  else {
    const delay = backoff(attempts - 1, CALLBACK_BASE_MS, CALLBACK_CAP_MS, deps.random ?? Math.random);
    next = {
      url: callback.url,
      state: 'pending',
      attempts,
      lastError: failure,
      nextAttemptAt: new Date(now.getTime() + delay).toISOString(),
    };
  }
  deps.log(next.state === 'delivered' ? 'info' : 'warn', `callback.${next.state}`, {
    requestId: request.id,
    attempt: request.attempts,
    deliveries: attempts,
    eventId: eventOf(request).id,
    reason: next.lastError,
  });
  return record(claimed, next, deps);
}

/** Writes the delivery state; the due marker is a superset of pending deliveries (written first, removed last). */
async function record(stored: Stored<ChatRequest>, next: CallbackStatus, deps: CallbackDeps): Promise<CallbackStatus> {
  const id = stored.value.id;
  if (next.state === 'pending' && next.nextAttemptAt)
    await deps.store.scheduleCallback(id, new Date(next.nextAttemptAt));
  try {
    await deps.store.replace(stored, withCallback(stored.value, next));
  } catch (error) {
    // Another writer changed the row (an operator's retry): the receiver dedupes by webhook-id.
    if (!lostRace(error)) throw error;
    return next;
  }
  if (next.state !== 'pending') await deps.store.clearCallback(id);
  return next;
}

function withCallback(request: ChatRequest, callback: CallbackStatus): ChatRequest {
  const clean = { ...callback };
  for (const key of Object.keys(clean) as (keyof CallbackStatus)[]) if (clean[key] === undefined) delete clean[key];
  return { ...request, callback: clean };
}

async function post(url: URL, request: ChatRequest, deps: CallbackDeps): Promise<string | undefined> {
  const event = eventOf(request);
  // The receiver checks the timestamp against its own clock (±5 minutes): always the wall clock.
  const sentAt = new Date();
  const body = JSON.stringify({ type: event.type, timestamp: sentAt.toISOString(), data: toResource(request) });
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'webhook-id': event.id,
    'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
    'user-agent': 'chat-provisioner',
  };
  if (deps.config.signingSecret)
    headers['webhook-signature'] = signWebhook(deps.config.signingSecret, event.id, sentAt, body);
  try {
    const init: RequestInit & { dispatcher?: unknown } = {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(CALLBACK_TIMEOUT_MS),
    };
    if (!deps.fetch) init.dispatcher = guardedDispatcher(deps.config.allowLocalhost);
    const response = await (deps.fetch ?? fetch)(url, init);
    await response.arrayBuffer().catch(() => undefined);
    return response.ok ? undefined : `receiver answered ${response.status}`;
  } catch (error) {
    const err = error as { name?: string; cause?: { code?: string } };
    return `could not reach the receiver (${err?.cause?.code ?? err?.name ?? 'error'})`;
  }
}

type LookupCallback = (error: Error | null, address?: string | LookupAddress[], family?: number) => void;

/**
 * The address check again at connect time, on the addresses the socket will really use: a host that
 * passed checkCallbackTarget but now resolves elsewhere (DNS rebinding) is refused before connecting.
 */
export function guardedLookup(
  allowLoopback: boolean,
  resolve: (host: string, family: number) => Promise<LookupAddress[]> = (host, family) =>
    lookup(host, { all: true, family }),
) {
  return (hostname: string, options: { all?: boolean; family?: number }, callback: LookupCallback): void => {
    resolve(hostname, options.family ?? 0).then(
      (addresses) => {
        const refused = addresses.find(
          (a) => isPrivateAddress(a.address) && !(allowLoopback && isLoopbackHost(a.address)),
        );
        if (addresses.length === 0 || refused) {
          const error = new Error(`refused: ${hostname} resolves to a private or local address`) as Error & {
            code: string;
          };
          error.code = 'ECALLBACKREFUSED';
          callback(error);
        } else if (options.all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (error: Error) => callback(error),
    );
  };
}

const dispatchers = new Map<boolean, UndiciAgent>();
function guardedDispatcher(allowLoopback: boolean): UndiciAgent {
  let agent = dispatchers.get(allowLoopback);
  if (!agent) {
    agent = new UndiciAgent({ connect: { lookup: guardedLookup(allowLoopback) } as object });
    dispatchers.set(allowLoopback, agent);
  }
  return agent;
}

/** The worker's, poller's and poison handler's hook for final states: one delivery try right away. */
export function deliverOnFinal(
  svc: { store: RequestStore; config: Pick<Config, 'callback'> },
  log: Logger,
  options: Pick<CallbackDeps, 'resolve' | 'fetch' | 'now'> = {},
): (request: ChatRequest) => Promise<void> {
  return async (request) => {
    if (!request.callback) return;
    // transition() wrote the due marker: if this try is lost, the timer delivers.
    const stored = await svc.store.get(request.id);
    if (stored)
      await deliverCallback(stored, { store: svc.store, config: svc.config.callback, log, ...options }).catch(
        (error: unknown) =>
          log('warn', 'callback.deferred', { requestId: request.id, reason: (error as Error)?.name ?? 'error' }),
      );
  };
}

/** The timer's share: callbacks whose next attempt is due. */
export async function deliverDueCallbacks(deps: CallbackDeps, limit = 200): Promise<number> {
  const now = (deps.now ?? (() => new Date()))();
  const ids = await deps.store.listDueCallbacks(now, limit);
  let attempted = 0;
  for (const id of ids) {
    const stored = await deps.store.get(id);
    const callback = stored?.value.callback;
    // Delivered, failed, or the request left its final state (an operator's retry makes a new event later).
    if (!stored || !callback || callback.state !== 'pending' || !isFinal(stored.value.state)) {
      await deps.store.clearCallback(id);
      continue;
    }
    if (callback.nextAttemptAt && Date.parse(callback.nextAttemptAt) > now.getTime()) continue;
    await deliverCallback(stored, deps);
    attempted += 1;
  }
  return attempted;
}
