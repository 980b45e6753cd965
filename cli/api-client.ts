import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
/**
 * The CLI's HTTP client for the chat-provisioner API (docs/api.md). Typed answers, RFC 9457 problems
 * turned into `ApiError`, and the CLI's only retry layer: idempotent calls (GETs, and batches, which
 * are idempotent by each row's externalId) are retried on 429/502/503/504 and network errors,
 * honouring Retry-After, a bounded number of times. The function key goes only to the base URL's
 * origin and never into a message.
 */
import { z } from 'zod';
import { STATES } from '../shared/core/model';
import type { ChatRequestResource, State } from '../shared/core/model';
import { parseRetryAfter } from '../shared/core/retry-after';

export { parseRetryAfter };

export interface FieldError {
  path: string;
  message: string;
}

/** An RFC 9457 problem as the API sends it; extension members pass through. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

/** The API answered, but not with what was asked for. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** Origin and path only: no query string (it may hold a `code=` key or a continuation token). */
    readonly url: string,
    readonly problem?: Problem,
    /** A rejected call had its Retry-After, when the API said how long to wait. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The API could not be reached (refused, DNS, TLS, timeout, connection reset). */
export class NetworkError extends Error {
  constructor(
    readonly url: string,
    /** What went wrong, short: `ECONNREFUSED`, `no answer within 60s`. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Could not reach ${url} (${reason})`, options);
    this.name = 'NetworkError';
  }
}

export interface RetryNotice {
  /** The attempt that failed (1-based). */
  attempt: number;
  maxAttempts: number;
  delayMs: number;
  reason: string;
  method: string;
  url: string;
}

export interface ApiClientOptions {
  baseUrl: string;
  /** Sent as `x-functions-key`. */
  key?: string;
  /** `whsec_…`: POSTs are signed with Standard Webhooks headers (the service's WEBHOOK_SIGNING_SECRET). */
  signingSecret?: string;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => Date;
  /** Attempts per idempotent call, the first included (default 6). */
  maxAttempts?: number;
  /** Per attempt (default 60 s: a batch of 1000 rows is written before the API answers). */
  timeoutMs?: number;
  onRetry?: (notice: RetryNotice) => void;
}

export const BatchStatus = { accepted: 'accepted', replayed: 'replayed', rejected: 'rejected' } as const;
export type BatchStatus = (typeof BatchStatus)[keyof typeof BatchStatus];

export interface BatchItemResult {
  index: number;
  status: BatchStatus;
  id?: string;
  errors?: FieldError[];
}

export interface BatchAnswer {
  accepted: number;
  rejected: number;
  results: BatchItemResult[];
}

export interface ListQuery {
  state?: State;
  /** Requests created at or after this time. */
  since?: Date;
  /** Exact match, sent as `externalId=` (the API looks it up by its idempotency key). */
  externalId?: string;
  /**
   * Kept by the CLI itself: the API has no prefix filter (its table cannot do one without scanning),
   * so a prefix listing reads every page the other filters leave.
   */
  externalIdPrefix?: string;
  /** Page size asked of the API. */
  top?: number;
}

export interface ListPage {
  value: ChatRequestResource[];
  nextLink?: string;
}

export type RetryAnswer =
  | { kind: 'queued'; request?: ChatRequestResource }
  /** 409: the request is not failed; `state` when the problem names it. */
  | { kind: 'not-failed'; problem: Problem; state?: string };

export interface HealthAnswer {
  status: number;
  body: unknown;
}

export const MAX_BATCH_SIZE = 1000;
const DEFAULT_MAX_ATTEMPTS = 6;
const DEFAULT_TIMEOUT_MS = 60_000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 30_000;
/** A Retry-After longer than this ends the retries: better to say so than to sit silent for minutes. */
export const MAX_RETRY_AFTER_MS = 120_000;
const MAX_PAGES = 10_000;

/** How a call may be repeated. */
type RetryPolicy =
  /** Repeating cannot change the outcome: retry 429/502/503/504 and network errors. */
  | 'idempotent'
  /** Retry only answers that say the API did not act (429, 503). */
  | 'refused-only'
  | 'none';

const FieldErrorSchema = z.object({ path: z.string(), message: z.string() });
const ProblemSchema = z.looseObject({
  type: z.string().optional(),
  title: z.string().optional(),
  status: z.number().optional(),
  detail: z.string().optional(),
  errors: z.array(FieldErrorSchema).optional(),
});
const ResourceSchema = z.looseObject({ id: z.string(), state: z.string() });
const BatchAnswerSchema = z.looseObject({
  accepted: z.number(),
  rejected: z.number(),
  results: z.array(
    z.looseObject({
      index: z.number().int().nonnegative(),
      status: z.enum([BatchStatus.accepted, BatchStatus.replayed, BatchStatus.rejected]),
      id: z.string().optional(),
      errors: z.array(FieldErrorSchema).optional(),
    }),
  ),
});
const ListPageSchema = z.looseObject({ value: z.array(ResourceSchema), nextLink: z.string().optional() });

/** Delay before the next attempt: the API's Retry-After when given, else exponential backoff with jitter. */
export function retryDelayMs(
  retryAfter: string | null | undefined,
  attempt: number,
  nowMs: number,
  random: () => number = Math.random,
): number {
  const asked = parseRetryAfter(retryAfter, nowMs);
  if (asked !== undefined) return asked;
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/** Origin and path of a URL, for messages: never the query string. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** `http://host:7071/` or `http://host:7071/api` → `http://host:7071`; throws on anything but http(s). */
export function normalizeBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`"${text}" is not a URL (expected e.g. http://localhost:7071)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`"${displayUrl(text)}" is not an http(s) URL`);
  }
  if (url.username || url.password) throw new Error('the URL must not hold credentials: set CHAT_PROVISIONER_KEY');
  if (url.search) throw new Error('the URL must not hold a query string: set the function key in CHAT_PROVISIONER_KEY');
  const path = url.pathname.replace(/\/+$/, '').replace(/\/api$/, '');
  return `${url.origin}${path}`;
}

export class ApiClient {
  readonly baseUrl: string;
  private readonly origin: string;
  private readonly fetchFn: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => Date;
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: ApiClientOptions) {
    this.baseUrl = normalizeBaseUrl(options.baseUrl);
    this.origin = new URL(this.baseUrl).origin;
    this.fetchFn = options.fetch ?? fetch;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
    this.now = options.now ?? (() => new Date());
    this.maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** `GET /api/health`: 200 and 503 are both answers (503 = a part is down), so neither throws. */
  async health(): Promise<HealthAnswer> {
    const answer = await this.call('GET', this.url('/api/health'), { policy: 'none', answers: [200, 503] });
    return { status: answer.status, body: answer.body };
  }

  async getRequest(id: string): Promise<ChatRequestResource> {
    const answer = await this.call('GET', this.url(`/api/requests/${encodeURIComponent(id)}`), {
      policy: 'idempotent',
    });
    return this.shaped(answer, ResourceSchema, 'a request') as unknown as ChatRequestResource;
  }

  /** One page of `GET /api/requests`; `pageUrl` is a nextLink from the previous page. */
  async listPage(query: ListQuery, pageUrl?: string): Promise<ListPage> {
    const url = pageUrl !== undefined ? this.resolveNextLink(pageUrl) : this.listUrl(query);
    const answer = await this.call('GET', url, { policy: 'idempotent' });
    const page = this.shaped(answer, ListPageSchema, 'a list page');
    const result: ListPage = { value: page.value as unknown as ChatRequestResource[] };
    if (page.nextLink) result.nextLink = page.nextLink;
    return result;
  }

  /** Every request matching `query`, following nextLink; stops after `limit` items when given. */
  async *listAll(query: ListQuery, limit?: number): AsyncGenerator<ChatRequestResource> {
    let count = 0;
    let next: string | undefined;
    const seen = new Set<string>();
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const answer = await this.listPage(query, next);
      for (const item of answer.value) {
        if (query.externalIdPrefix !== undefined && !(item.externalId ?? '').startsWith(query.externalIdPrefix))
          continue;
        if (query.since !== undefined && Date.parse(item.createdAt) < query.since.getTime()) continue;
        yield item;
        count += 1;
        if (limit !== undefined && count >= limit) return;
      }
      next = answer.nextLink;
      if (next === undefined || seen.has(next)) return; // a nextLink seen before would loop forever
      seen.add(next);
    }
  }

  /** `POST /api/requests/batch`: retried as a whole, which is safe because every row has an externalId. */
  async submitBatch(requests: readonly unknown[]): Promise<BatchAnswer> {
    if (requests.length > MAX_BATCH_SIZE) throw new Error(`a batch holds at most ${MAX_BATCH_SIZE} requests`);
    const answer = await this.call('POST', this.url('/api/requests/batch'), {
      policy: 'idempotent',
      body: { requests },
    });
    const batch = this.shaped(answer, BatchAnswerSchema, 'a batch answer') as BatchAnswer;
    if (batch.results.some((result) => result.index >= requests.length)) {
      throw new ApiError(
        `The API answered ${displayUrl(answer.url)} with a result index outside the batch`,
        answer.status,
        displayUrl(answer.url),
      );
    }
    return batch;
  }

  /** `POST /api/requests/{id}/retry`: 202 queued again; 409 the request is not failed. */
  async retryRequest(id: string): Promise<RetryAnswer> {
    const answer = await this.call('POST', this.url(`/api/requests/${encodeURIComponent(id)}/retry`), {
      policy: 'refused-only',
      answers: [200, 202, 409],
    });
    if (answer.status === 409) {
      const problem = asProblem(answer.body) ?? { status: 409, title: 'Conflict' };
      const result: RetryAnswer = { kind: 'not-failed', problem };
      const state = stateFromProblem(problem);
      if (state !== undefined) result.state = state;
      return result;
    }
    const parsed = ResourceSchema.safeParse(answer.body);
    return parsed.success
      ? { kind: 'queued', request: parsed.data as unknown as ChatRequestResource }
      : { kind: 'queued' };
  }

  private url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  private listUrl(query: ListQuery): string {
    const params = new URLSearchParams();
    if (query.state !== undefined) params.set('state', query.state);
    if (query.since !== undefined) params.set('since', query.since.toISOString());
    if (query.externalId !== undefined) params.set('externalId', query.externalId);
    if (query.top !== undefined) params.set('top', String(query.top));
    const search = params.toString();
    return this.url(`/api/requests${search ? `?${search}` : ''}`);
  }

  /** nextLink may be relative or absolute; the key is only ever sent to the configured origin. */
  private resolveNextLink(nextLink: string): string {
    const resolved = new URL(nextLink, `${this.baseUrl}/`);
    if (resolved.origin === this.origin) return resolved.toString();
    return `${this.origin}${resolved.pathname}${resolved.search}`;
  }

  private shaped<T>(answer: { status: number; url: string; body: unknown }, schema: z.ZodType<T>, what: string): T {
    const parsed = schema.safeParse(answer.body);
    if (parsed.success) return parsed.data;
    throw new ApiError(
      `The API answered ${displayUrl(answer.url)} with something that is not ${what} (${parsed.error.issues[0]?.message ?? 'unexpected shape'})`,
      answer.status,
      displayUrl(answer.url),
    );
  }

  private async call(
    method: 'GET' | 'POST',
    url: string,
    options: { policy: RetryPolicy; body?: unknown; answers?: readonly number[] },
  ): Promise<{ status: number; url: string; body: unknown }> {
    const maxAttempts = options.policy === 'none' ? 1 : this.maxAttempts;
    for (let attempt = 1; ; attempt += 1) {
      let failure: ApiError | NetworkError;
      let retryAfter: string | null = null;
      try {
        const answer = await this.once(method, url, options.body);
        const accepted = options.answers ?? [200, 201, 202];
        if (accepted.includes(answer.status)) return answer;
        retryAfter = answer.retryAfter;
        failure = apiError(
          method,
          url,
          answer.status,
          answer.body,
          answer.location,
          parseRetryAfter(retryAfter, this.now().getTime()),
        );
      } catch (error) {
        if (!(error instanceof NetworkError)) throw error;
        failure = error;
      }
      if (attempt >= maxAttempts || !retryable(failure, options.policy)) throw failure;
      const delayMs = retryDelayMs(retryAfter, attempt, this.now().getTime(), this.random);
      if (delayMs > MAX_RETRY_AFTER_MS) throw failure;
      this.options.onRetry?.({
        attempt,
        maxAttempts,
        delayMs,
        reason: failure instanceof ApiError ? `HTTP ${failure.status}` : failure.reason,
        method,
        url: displayUrl(url),
      });
      await this.sleep(delayMs);
    }
  }

  private async once(
    method: string,
    url: string,
    body: unknown,
  ): Promise<{ status: number; url: string; body: unknown; retryAfter: string | null; location: string | null }> {
    const headers: Record<string, string> = {
      accept: 'application/json, application/problem+json',
      'user-agent': 'chat-provisioner-cli',
    };
    // Only to the configured origin (nextLinks are rebased onto it): the key must not leak elsewhere.
    if (this.options.key && new URL(url).origin === this.origin) headers['x-functions-key'] = this.options.key;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (method === 'POST' && this.options.signingSecret) {
      // A fresh id per send: a retried chunk is idempotent by its rows' externalIds, not by webhook-id.
      Object.assign(
        headers,
        signedHeaders(this.options.signingSecret, payload ?? '', this.options.now?.() ?? new Date()),
      );
    }
    let response: Response;
    let text: string;
    try {
      response = await this.fetchFn(url, {
        method,
        headers,
        body: payload,
        // A redirect could carry the key to another host: report it instead of following it.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      throw new NetworkError(displayUrl(url), networkReason(error, this.timeoutMs), { cause: error });
    }
    let parsed: unknown = undefined;
    if (text.trim() !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return {
      status: response.status,
      url,
      body: parsed,
      retryAfter: response.headers.get('retry-after'),
      location: response.headers.get('location'),
    };
  }
}

/**
 * Nobody listens there, or the name does not resolve: a wrong URL or a stopped service. Retrying would only
 * make the person wait; it fails at once, naming the URL. (A slow answer and a dropped connection are retried.)
 */
const NOT_THERE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_NONAME',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  // No connection within undici's 10 s connect timeout: nothing answers at that address.
  'UND_ERR_CONNECT_TIMEOUT',
]);

function retryable(failure: ApiError | NetworkError, policy: RetryPolicy): boolean {
  if (policy === 'none') return false;
  if (failure instanceof NetworkError) return policy === 'idempotent' && !NOT_THERE.has(failure.reason);
  if (failure.status === 429 || failure.status === 503) return true;
  return policy === 'idempotent' && (failure.status === 502 || failure.status === 504);
}

function asProblem(body: unknown): Problem | undefined {
  const parsed = ProblemSchema.safeParse(body);
  return parsed.success && (parsed.data.title !== undefined || parsed.data.detail !== undefined)
    ? (parsed.data as Problem)
    : undefined;
}

/** The current state a 409 names: an extension member (`state`, `currentState`) or the detail text. */
export function stateFromProblem(problem: Problem): string | undefined {
  for (const key of ['state', 'currentState']) {
    const value = problem[key];
    if (typeof value === 'string' && (STATES as readonly string[]).includes(value)) return value;
  }
  const text = `${problem.detail ?? ''} ${problem.title ?? ''}`;
  return STATES.find((state) => new RegExp(`\\b${state}\\b`, 'i').test(text));
}

function apiError(
  method: string,
  url: string,
  status: number,
  body: unknown,
  location: string | null,
  retryAfterMs: number | undefined,
): ApiError {
  const shown = displayUrl(url);
  const problem = asProblem(body);
  if (status >= 300 && status < 400) {
    const target = location ? displayUrl(new URL(location, url).toString()) : 'another address';
    return new ApiError(`${method} ${shown} was redirected to ${target}: pass that address with --url`, status, shown);
  }
  const title = problem?.title ?? defaultTitle(status);
  return new ApiError(`${method} ${shown} answered ${status} ${title}`, status, shown, problem, retryAfterMs);
}

function defaultTitle(status: number): string {
  const titles: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    409: 'Conflict',
    413: 'Payload Too Large',
    422: 'Unprocessable Content',
    429: 'Too Many Requests',
    500: 'Internal Server Error',
    502: 'Bad Gateway',
    503: 'Service Unavailable',
    504: 'Gateway Timeout',
  };
  return titles[status] ?? 'Error';
}

function networkReason(error: unknown, timeoutMs: number): string {
  const name = (error as { name?: string } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${Math.round(timeoutMs / 1000)}s`;
  let cause: unknown = error;
  for (let depth = 0; cause && depth < 4; depth += 1) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cause = (cause as { cause?: unknown }).cause;
  }
  return (error as Error)?.message ?? 'unknown error';
}

/** Standard Webhooks headers for one send. */
export function signedHeaders(secret: string, body: string, now: Date): Record<string, string> {
  const id = `msg_${randomUUID()}`;
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, now, body),
  };
}
