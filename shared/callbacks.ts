import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Config } from './config';
import { isLoopbackHost } from './config';
import { backoff } from './graph-outcome';
import type { Logger } from './log';
import { CallbackStatus, ChatRequest, State, toResource } from './model';
import { lostRace, RequestStore, Stored } from './request-store';
import { signWebhook } from './webhook-signature';

/**
 * Callbacks: when a request with `callbackUrl` reaches a final state, its resource is POSTed there as
 * `{type: "chat.provisioned" | "chat.failed", data}`, signed with Standard Webhooks. `webhook-id` is
 * stable per event (request id + final state) so receivers can deduplicate across our retries.
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

/** Private, loopback, link-local, CGNAT, multicast and unspecified ranges (IPv4 and IPv6). */
export function isPrivateAddress(address: string): boolean {
  const ip = address.toLowerCase().replace(/^::ffff:/, '');
  if (isIP(ip) === 4) {
    const [a = 0, b = 0] = ip.split('.').map(Number);
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 198 && (b === 18 || b === 19)) ||
      a >= 224
    );
  }
  return ip === '::' || ip === '::1' || /^f[cd]/.test(ip) || /^fe[89ab]/.test(ip) || /^ff/.test(ip);
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
  if (!hostAllowed(host, config.allowedHosts))
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

export function eventOf(request: ChatRequest): { id: string; type: string } {
  const type = request.state === State.succeeded ? 'chat.provisioned' : 'chat.failed';
  return { id: `${request.id}.${request.state}`, type };
}

/** One delivery attempt for a final request whose callback is pending; records the outcome on the row. */
export async function deliverCallback(
  stored: Stored<ChatRequest>,
  deps: CallbackDeps,
): Promise<CallbackStatus | undefined> {
  const request = stored.value;
  const callback = request.callback;
  if (
    !callback ||
    callback.state !== 'pending' ||
    (request.state !== State.succeeded && request.state !== State.failed)
  ) {
    return callback;
  }
  const now = (deps.now ?? (() => new Date()))();
  const attempts = callback.attempts + 1;
  const target = await checkCallbackTarget(callback.url, deps.config, deps.resolve);
  let next: CallbackStatus;
  if (!target.ok) {
    next = {
      ...callback,
      state: 'failed',
      attempts: callback.attempts,
      lastError: `refused: ${target.reason}`,
      nextAttemptAt: undefined,
    };
  } else {
    const error = await post(target.url, request, deps, now);
    if (!error) next = { url: callback.url, state: 'delivered', attempts };
    else {
      const giveUp = now.getTime() - Date.parse(request.updatedAt) > CALLBACK_RETRY_WINDOW_MS;
      next = giveUp
        ? { url: callback.url, state: 'failed', attempts, lastError: `${error} (gave up after 24 hours)` }
        : {
            url: callback.url,
            state: 'pending',
            attempts,
            lastError: error,
            nextAttemptAt: new Date(
              now.getTime() + backoff(attempts - 1, CALLBACK_BASE_MS, CALLBACK_CAP_MS, deps.random ?? Math.random),
            ).toISOString(),
          };
    }
  }
  deps.log(next.state === 'delivered' ? 'info' : 'warn', `callback.${next.state}`, {
    requestId: request.id,
    attempt: attempts,
    reason: next.lastError,
  });
  try {
    if (next.state === 'pending' && next.nextAttemptAt)
      await deps.store.scheduleCallback(request.id, new Date(next.nextAttemptAt));
    await deps.store.replace(stored, cleanCallback({ ...request, callback: next }));
    if (next.state !== 'pending') await deps.store.clearCallback(request.id);
  } catch (error) {
    // Another writer recorded this callback first; the receiver dedupes by webhook-id.
    if (!lostRace(error)) throw error;
  }
  return next;
}

function cleanCallback(request: ChatRequest): ChatRequest {
  if (request.callback) {
    for (const key of Object.keys(request.callback) as (keyof CallbackStatus)[]) {
      if (request.callback[key] === undefined) delete request.callback[key];
    }
  }
  return request;
}

async function post(url: URL, request: ChatRequest, deps: CallbackDeps, now: Date): Promise<string | undefined> {
  const event = eventOf(request);
  const body = JSON.stringify({ type: event.type, timestamp: now.toISOString(), data: toResource(request) });
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'webhook-id': event.id,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'user-agent': 'chat-provisioner',
  };
  if (deps.config.signingSecret)
    headers['webhook-signature'] = signWebhook(deps.config.signingSecret, event.id, now, body);
  try {
    const response = await (deps.fetch ?? fetch)(url, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(CALLBACK_TIMEOUT_MS),
    });
    await response.arrayBuffer().catch(() => undefined);
    return response.ok ? undefined : `receiver answered ${response.status}`;
  } catch (error) {
    return `could not reach the receiver (${(error as Error)?.name ?? 'error'})`;
  }
}

/** The worker's and poller's hook for final states: schedule, then try once right away. */
export function deliverOnFinal(
  svc: { store: RequestStore; config: Pick<Config, 'callback'> },
  log: Logger,
): (request: ChatRequest) => Promise<void> {
  return async (request) => {
    if (!request.callback) return;
    // The due marker first: if this process dies now, the timer still delivers.
    await svc.store.scheduleCallback(request.id, new Date());
    const stored = await svc.store.get(request.id);
    if (stored)
      await deliverCallback(stored, { store: svc.store, config: svc.config.callback, log }).catch(() => undefined);
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
    if (!stored || !callback || callback.state !== 'pending') {
      await deps.store.clearCallback(id);
      continue;
    }
    if (callback.nextAttemptAt && Date.parse(callback.nextAttemptAt) > now.getTime()) continue;
    await deliverCallback(stored, deps);
    attempted += 1;
  }
  return attempted;
}
