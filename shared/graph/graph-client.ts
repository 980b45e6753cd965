import { randomUUID } from 'node:crypto';
import { Agent as HttpsAgent } from 'node:https';
import { rootCertificates } from 'node:tls';
import {
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  TokenCredential,
} from '@azure/identity';
import {
  AuthenticationHandler,
  Client,
  Context,
  Middleware,
  MiddlewareOptions,
  ResponseType,
  TelemetryHandler,
} from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials';
import { Agent as UndiciAgent } from 'undici';
import type { Config } from '../platform/config';
import type { GraphCreateChatBody } from '../core/model';

/**
 * The Graph adapter: one credential and one Graph client per process.
 *
 * Retry layers on the POST /chats path (exactly one decides):
 *   1. Graph SDK middleware: Authentication → Telemetry → Fetch (ours: the SDK's HTTP handler, keeping the
 *      transport error). The SDK's RetryHandler (which would retry POSTs on 429/503/504 and can duplicate
 *      group chats) and RedirectHandler are left out.
 *   2. fetch (undici): no retries.
 *   3. @azure/identity: its pipeline retries the *token* request on 5xx/network errors; Graph is not called.
 *   4. The service's own policy (shared/core/graph-retry-policy.ts): re-enqueues the message with a delay. This is
 *      the only layer that retries Graph writes.
 *   5. The Functions host retries a message whose function *threw* (maxDequeueCount); the worker only
 *      throws when storage is down, never for a Graph answer.
 */

export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
export const GRAPH_TIMEOUT_MS = 30_000;
/** Graph documents the chat operations (GET /chats/{id}/operations/{id}) under beta only; the POST stays on v1.0. */
const OPERATION_VERSION = 'beta';

export interface GraphHeaders {
  requestId?: string;
  clientRequestId?: string;
  retryAfter?: string;
  location?: string;
}

/** Everything a Graph call can end in, as data: the decision functions are pure and never see exceptions. */
export type GraphAnswer =
  | { kind: 'response'; status: number; headers: GraphHeaders; body: unknown }
  | { kind: 'network'; code: string; message: string; timedOut: boolean; clientRequestId: string }
  | { kind: 'token'; code: string; message: string; retryable: boolean; clientRequestId: string };

export interface ChatSummary {
  id: string;
  chatType?: string;
  topic?: string | null;
  createdDateTime?: string;
  webUrl?: string;
  tenantId?: string;
  members: { userId?: string; email?: string; tenantId?: string }[];
}

/** A user's chats as far as they were listed: `complete` false when the page bound stopped the listing. */
export type ChatListing =
  { ok: true; chats: ChatSummary[]; complete: boolean; filterRefused: boolean } | { ok: false; answer: GraphAnswer };

export type UserIdLookup =
  | { ok: true; id: string }
  /** `notFound`: the directory has no such user (404). */
  | { ok: false; notFound: boolean; answer: GraphAnswer };

export interface GraphChats {
  createChat(body: GraphCreateChatBody, clientRequestId?: string): Promise<GraphAnswer>;
  getOperation(location: string): Promise<GraphAnswer>;
  getChat(chatId: string): Promise<GraphAnswer>;
  /**
   * Group chats of one member (UPN or object id) created at or after `since`, with their members, for adopting
   * a chat we may have made. Asks Graph to filter; when Graph refuses the filter (400), lists without one, a
   * bounded number of pages, and filters here.
   */
  listUserChats(user: string, since: Date): Promise<ChatListing>;
  /** The object id of a user named by UPN (or id): `GET /users/{user}?$select=id` (needs User.ReadBasic.All). */
  getUserId(user: string): Promise<UserIdLookup>;
  /** Absolute URL of an operation from Graph's relative Location header. */
  resolveLocation(location: string): string;
}

/** Waits before each retry of a lookup read that failed transiently (see SdkGraphChats.read). */
export const READ_RETRY_DELAYS_MS = [200, 1_000];

export function createCredential(config: Config['graph']): TokenCredential {
  const agent = config.extraCaCerts ? trustAgent(config.extraCaCerts) : undefined;
  const common = { authorityHost: config.authorityHost, disableInstanceDiscovery: true, ...(agent ? { agent } : {}) };
  const credential = config.credential;
  switch (credential.kind) {
    case 'clientSecret':
      return new ClientSecretCredential(credential.tenantId, credential.clientId, credential.clientSecret, common);
    case 'clientCertificate':
      return new ClientCertificateCredential(
        credential.tenantId,
        credential.clientId,
        { certificatePath: credential.certificatePath },
        common,
      );
    case 'managedIdentity':
      return credential.clientId
        ? new ManagedIdentityCredential({ clientId: credential.clientId })
        : new ManagedIdentityCredential();
  }
}

/**
 * One URL path segment, or undefined when `value` cannot be one: encodeURIComponent leaves "." alone, and
 * the URL parser resolves a segment of only dots (even as %2E) away, which would move the call to another
 * resource. Intake refuses such users; this keeps any other way in from changing the URL.
 */
export function pathSegment(value: string): string | undefined {
  return value === '' || /^\.+$/.test(value) ? undefined : encodeURIComponent(value);
}

/** The answer for a call that was never sent because its URL could not be built safely. */
function refusedLocally(what: string, value: string): GraphAnswer {
  return {
    kind: 'response',
    status: 400,
    headers: {},
    body: {
      error: {
        code: 'InvalidPathSegment',
        message: `${what} ${JSON.stringify(value)} cannot be put in a URL; not sent`,
      },
    },
  };
}

function trustAgent(extraCa: string): HttpsAgent {
  return new HttpsAgent({ ca: [...rootCertificates, extraCa], keepAlive: true });
}

export interface GraphClientOptions {
  /** Per call; a POST that times out is ambiguous (the chat may exist). Default GRAPH_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Pages of a member's chats listed without a filter before giving up on that member. Default UNFILTERED_PAGE_LIMIT. */
  unfilteredPageLimit?: number;
}

/** Pages (50 chats each) of one member's group chats since the attempt, when Graph filters them. */
export const FILTERED_PAGE_LIMIT = 10;
/**
 * Pages (50 chats each, every type, oldest or newest first: Graph does not say) of one member's chats listed
 * without a filter, when Graph refuses the createdDateTime filter: 1000 chats.
 */
export const UNFILTERED_PAGE_LIMIT = 20;

export class SdkGraphChats implements GraphChats {
  private readonly client: Client;
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly unfilteredPageLimit: number;

  constructor(
    private readonly credential: TokenCredential,
    config: Pick<Config['graph'], 'baseUrl' | 'extraCaCerts'>,
    options: GraphClientOptions = {},
  ) {
    this.baseUrl = config.baseUrl;
    this.timeoutMs = options.timeoutMs ?? GRAPH_TIMEOUT_MS;
    this.unfilteredPageLimit = Math.max(1, Math.floor(options.unfilteredPageLimit ?? UNFILTERED_PAGE_LIMIT));
    const auth = new AuthenticationHandler(
      new TokenCredentialAuthenticationProvider(credential, { scopes: [GRAPH_SCOPE] }),
    );
    const telemetry = new TelemetryHandler();
    const http = new FetchHandler();
    auth.setNext(telemetry);
    telemetry.setNext(http);
    const fetchOptions = config.extraCaCerts
      ? // Node's fetch is undici: a dispatcher that trusts the extra CA (the local simulator's).
        ({ dispatcher: new UndiciAgent({ connect: { ca: [...rootCertificates, config.extraCaCerts] } }) } as object)
      : undefined;
    this.client = Client.initWithMiddleware({
      middleware: auth,
      baseUrl: this.baseUrl,
      customHosts: new Set([new URL(this.baseUrl).hostname]),
      ...(fetchOptions ? { fetchOptions } : {}),
    });
  }

  async createChat(body: GraphCreateChatBody, clientRequestId = randomUUID()): Promise<GraphAnswer> {
    return this.call('POST', '/chats', clientRequestId, body);
  }

  async getOperation(location: string): Promise<GraphAnswer> {
    return this.call('GET', this.resolveLocation(location), randomUUID());
  }

  async getChat(chatId: string): Promise<GraphAnswer> {
    const segment = pathSegment(chatId);
    if (segment === undefined) return refusedLocally('chat id', chatId);
    return this.call('GET', `/chats/${segment}`, randomUUID());
  }

  async listUserChats(user: string, since: Date): Promise<ChatListing> {
    const segment = pathSegment(user);
    if (segment === undefined) return { ok: false, answer: refusedLocally('user', user) };
    const filter = `chatType eq 'group' and createdDateTime ge ${since.toISOString()}`;
    const filtered = await this.listPages(
      `/users/${segment}/chats?$filter=${encodeURIComponent(filter)}&$expand=members&$top=50`,
      FILTERED_PAGE_LIMIT,
    );
    // Which filters list-chats takes is not documented, and Teams endpoints refuse some operators on
    // createdDateTime with a 400. Then list without a filter, a bounded number of pages, and filter here.
    const refused = !filtered.ok && filtered.answer.kind === 'response' && filtered.answer.status === 400;
    const listed = refused
      ? await this.listPages(`/users/${segment}/chats?$expand=members&$top=50`, this.unfilteredPageLimit)
      : filtered;
    if (!listed.ok) return listed;
    const chats = listed.chats.filter(
      // A chat without a readable createdDateTime is kept: the members and topic still have to match.
      (chat) => chat.chatType === 'group' && !(Date.parse(chat.createdDateTime ?? '') < since.getTime()),
    );
    return { ok: true, chats, complete: listed.complete, filterRefused: refused };
  }

  async getUserId(user: string): Promise<UserIdLookup> {
    const segment = pathSegment(user);
    if (segment === undefined) return { ok: false, notFound: false, answer: refusedLocally('user', user) };
    const answer = await this.read(`/users/${segment}?$select=id`);
    if (answer.kind === 'response' && answer.status === 200) {
      const id = (answer.body as { id?: unknown } | undefined)?.id;
      if (typeof id === 'string' && id !== '') return { ok: true, id };
    }
    return { ok: false, notFound: answer.kind === 'response' && answer.status === 404, answer };
  }

  /**
   * A read of the lookup after a lost answer (a member's chats, a user's id). Reads change nothing, so one
   * that fails transiently (a 5xx, a reset, a timeout) is tried again in the same attempt, after
   * READ_RETRY_DELAYS_MS, before its failure counts against the request: a lookup is several reads, and
   * otherwise a degraded Graph fails it far more often than the POST it protects (a 429 is not retried
   * here: its Retry-After is the policy's).
   */
  private async read(path: string): Promise<GraphAnswer> {
    for (let retry = 0; ; retry += 1) {
      const answer = await this.call('GET', path, randomUUID());
      const transient = answer.kind === 'network' || (answer.kind === 'response' && answer.status >= 500);
      const delay = READ_RETRY_DELAYS_MS[retry];
      if (!transient || delay === undefined) return answer;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** Follows nextLinks for at most `limit` pages; `complete` says whether the listing reached its end. */
  private async listPages(
    first: string,
    limit: number,
  ): Promise<{ ok: true; chats: ChatSummary[]; complete: boolean } | { ok: false; answer: GraphAnswer }> {
    const chats: ChatSummary[] = [];
    let path: string | undefined = first;
    for (let page = 0; path && page < limit; page += 1) {
      const answer = await this.read(path);
      if (answer.kind !== 'response' || answer.status !== 200) return { ok: false, answer };
      const body = answer.body as { value?: unknown[]; '@odata.nextLink'?: string } | undefined;
      for (const raw of body?.value ?? []) chats.push(toChatSummary(raw));
      path = body?.['@odata.nextLink'];
    }
    return { ok: true, chats, complete: !path };
  }

  /**
   * Graph's Location is relative with no version (`/chats('…')/operations('…')`). Chat operations exist under
   * beta only: v1.0 answers 400 "Resource not found for the segment 'operations'", so a location that names
   * v1.0 (a row written before, or a Location that carried a version) is moved to beta as well.
   */
  resolveLocation(location: string): string {
    const absolute = /^https:\/\/[^/]+/i.exec(location);
    const host = absolute ? absolute[0] : this.baseUrl;
    let path = absolute ? location.slice(absolute[0].length) : location.startsWith('/') ? location : `/${location}`;
    path = path.replace(/^\/(?:v1\.0|beta)(?=\/)/i, '');
    return `${host}/${OPERATION_VERSION}${path}`;
  }

  private async call(
    method: 'GET' | 'POST',
    path: string,
    clientRequestId: string,
    body?: unknown,
  ): Promise<GraphAnswer> {
    // Token first, so its failures are told apart from Graph's (the handler then reuses the cached token).
    try {
      await this.credential.getToken(GRAPH_SCOPE);
    } catch (error) {
      return tokenAnswer(error, clientRequestId);
    }
    const signal = AbortSignal.timeout(this.timeoutMs);
    const transport = new TransportFailure();
    const request = this.client
      .api(path)
      .header('client-request-id', clientRequestId)
      .header('Prefer', 'include-unknown-enum-members')
      .option('signal', signal)
      .middlewareOptions([transport])
      .responseType(ResponseType.RAW);
    try {
      const response = (await (method === 'POST' ? request.post(body) : request.get())) as Response;
      return {
        kind: 'response',
        status: response.status,
        headers: {
          requestId: response.headers.get('request-id') ?? undefined,
          clientRequestId: response.headers.get('client-request-id') ?? clientRequestId,
          retryAfter: response.headers.get('retry-after') ?? undefined,
          location: response.headers.get('location') ?? undefined,
        },
        body: await readBody(response),
      };
    } catch (error) {
      return networkAnswer(transport.error ?? error, signal.aborted, clientRequestId);
    }
  }
}

/** Carries fetch's own error past the SDK, which rewraps it without its cause (ECONNRESET, …). */
class TransportFailure implements MiddlewareOptions {
  error: unknown;
}

/** The SDK's HTTPMessageHandler, plus: the transport error is kept for the caller. */
class FetchHandler implements Middleware {
  async execute(context: Context): Promise<void> {
    try {
      context.response = await fetch(context.request, context.options);
    } catch (error) {
      const holder = context.middlewareControl?.getMiddlewareOptions(TransportFailure) as TransportFailure | undefined;
      if (holder) holder.error = error;
      throw error;
    }
  }
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function toChatSummary(raw: unknown): ChatSummary {
  const chat = (raw ?? {}) as Record<string, unknown>;
  const members = Array.isArray(chat.members) ? chat.members : [];
  return {
    id: String(chat.id ?? ''),
    chatType: typeof chat.chatType === 'string' ? chat.chatType : undefined,
    topic: typeof chat.topic === 'string' ? chat.topic : null,
    createdDateTime: typeof chat.createdDateTime === 'string' ? chat.createdDateTime : undefined,
    webUrl: typeof chat.webUrl === 'string' ? chat.webUrl : undefined,
    tenantId: typeof chat.tenantId === 'string' ? chat.tenantId : undefined,
    members: members.map((m) => {
      const member = (m ?? {}) as Record<string, unknown>;
      return {
        userId: typeof member.userId === 'string' ? member.userId : undefined,
        email: typeof member.email === 'string' ? member.email : undefined,
        tenantId: typeof member.tenantId === 'string' ? member.tenantId : undefined,
      };
    }),
  };
}

/** Entra error codes that mean the configuration is wrong; retrying cannot help. */
const PERMANENT_TOKEN_ERRORS = [
  'invalid_client',
  'invalid_scope',
  'unauthorized_client',
  'invalid_request',
  'invalid_grant',
];

export function tokenAnswer(error: unknown, clientRequestId: string): GraphAnswer {
  const err = error as { name?: string; message?: string; errorResponse?: { error?: string } };
  const message = err?.message ?? String(error);
  // MSAL reports an unreachable authority (network, TLS, DNS) as endpoints_resolution_error: transient.
  if (
    /endpoints_resolution_error|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|socket hang up/i.test(message)
  ) {
    return {
      kind: 'token',
      code: 'authority_unreachable',
      message: firstLine(message),
      retryable: true,
      clientRequestId,
    };
  }
  // Entra's own transient answers (AADSTS90033 "A transient error has occurred"): try again later.
  const transient = /\b(temporarily_unavailable|server_error)\b|AADSTS90033\b/.exec(message);
  if (transient) {
    return {
      kind: 'token',
      code: transient[1] ?? 'temporarily_unavailable',
      message: firstLine(message),
      retryable: true,
      clientRequestId,
    };
  }
  const code =
    err?.errorResponse?.error ??
    PERMANENT_TOKEN_ERRORS.find((c) => message.includes(c)) ??
    (/AADSTS(7000215|700016|90002|1002012|7000222|700027)/.test(message)
      ? 'invalid_client'
      : (err?.name ?? 'token_error'));
  const permanent =
    PERMANENT_TOKEN_ERRORS.includes(code) || /AADSTS\d+/.test(message) || err?.name === 'CredentialUnavailableError';
  return { kind: 'token', code, message: firstLine(message), retryable: !permanent, clientRequestId };
}

function networkAnswer(error: unknown, timedOutBySignal: boolean, clientRequestId: string): GraphAnswer {
  const err = (error ?? {}) as {
    name?: string;
    code?: string;
    message?: string;
    cause?: { code?: string; message?: string; cause?: { code?: string } };
  };
  const causeCode = err.cause?.code ?? err.cause?.cause?.code;
  const detail = [err.message ?? String(error), err.cause?.message].filter(Boolean).join(': ');
  const timedOut =
    timedOutBySignal ||
    err.name === 'TimeoutError' ||
    causeCode === 'UND_ERR_HEADERS_TIMEOUT' ||
    causeCode === 'ETIMEDOUT';
  let code = causeCode ?? (typeof err.code === 'string' ? err.code : undefined) ?? 'NetworkError';
  if (/ECONNRESET|UND_ERR_SOCKET|other side closed|socket hang up/i.test(`${code} ${detail}`)) code = 'ConnectionReset';
  else if (/ECONNREFUSED/i.test(`${code} ${detail}`)) code = 'ConnectionRefused';
  return {
    kind: 'network',
    code: timedOut ? 'Timeout' : code,
    message: firstLine(detail),
    timedOut,
    clientRequestId,
  };
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.slice(0, 500);
}
