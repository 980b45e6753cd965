import type { GraphAnswer } from '../graph/graph-client';
import type { RequestError } from './model';
import { parseRetryAfter } from './retry-after';

export { parseRetryAfter };

/**
 * What each Graph answer does to a request: one pure decision function per call, and the retry
 * policy for Graph writes (the only one: see the layers in graph-client.ts). docs/operations.md
 * shows the same table.
 *
 * | answer                                   | outcome                                                         |
 * |------------------------------------------|-----------------------------------------------------------------|
 * | 201 (or 200) with a chat id              | succeeded                                                       |
 * | 202 + Location                           | pending (the poller follows the operation)                      |
 * | 403 no license / 404 user not found      | retried with growing delays for NEW_USER_GRACE_MINUTES, then failed |
 * | 404 "non existent App definition"        | failed at once, naming the app (TeamsAppNotFound): not a new hire |
 * | 403 other (not federated, permission, …) | failed, with the cause and hint for each known 403              |
 * | 412 PreconditionFailed                   | failed: Teams refuses the call app-only (no retry can change it) |
 * | 400 "Exception has been thrown by the …" | retried up to MAX_INVOCATION_EXCEPTIONS; outcome unknown (look first) |
 * | 429                                      | retried after Retry-After (or backoff); all workers slow down    |
 * | 5xx, 408, timeout, connection reset      | retried with backoff up to MAX_TRANSIENT_FAILURES; outcome unknown |
 * | token error: invalid_client, …           | failed: configuration, with what to fix                          |
 * | token endpoint down                      | retried like 5xx (Graph was not called)                          |
 * | other 4xx                                | failed with Graph's code, message and request ids                |
 *
 * Before posting again after an unknown outcome (group chats), the worker lists a member's chats; a
 * failed listing is decided by decideLookupOutcome (never falls through to a POST).
 */

export const MAX_TRANSIENT_FAILURES = 8;
/**
 * Graph sometimes answers POST /chats with `400 "Exception has been thrown by the target of an invocation."`:
 * a fault inside Graph dressed as a bad request (it may even have made the chat). Worth a few tries, not the
 * full transient budget: a body that always provokes it should fail soon and say so.
 */
export const MAX_INVOCATION_EXCEPTIONS = 3;
const INVOCATION_EXCEPTION = /exception has been thrown by the target of an invocation/i;
const TRANSIENT_BASE_MS = 5_000;
const TRANSIENT_CAP_MS = 15 * 60_000;
const THROTTLE_BASE_MS = 1_000;
const THROTTLE_CAP_MS = 60_000;
const GRACE_MIN_DELAY_MS = 60_000;
const GRACE_MAX_DELAY_MS = 30 * 60_000;

export type CreateOutcome =
  | { kind: 'succeeded'; chat: { id: string; webUrl?: string; createdDateTime?: string; tenantId?: string } }
  | { kind: 'pending'; location: string }
  | {
      kind: 'retry';
      delayMs: number;
      error: RequestError;
      /** Graph may have made the chat (5xx/timeout/reset after sending): look before posting again. */
      outcomeUnknown: boolean;
      /** 429: every worker slows down for this long (ms). */
      throttledForMs?: number;
      counts: 'transient' | 'grace' | 'throttle';
    }
  | {
      kind: 'failed';
      error: RequestError;
      /** Graph may have made the chat before this failure: an ops retry must look first. */
      outcomeUnknown?: boolean;
    };

export interface CreateContext {
  now: Date;
  /** When the grace window for a not-yet-replicated user started (first 403/404), if it has. */
  graceStartedAt?: string;
  graceMinutes: number;
  transientFailures: number;
  /** Consecutive 429s for this request (grows the backoff when Graph sends no Retry-After). */
  throttles: number;
  random: () => number;
  /** The Teams app ids the body installs (teamsAppIdsOf), to name the app when Graph does not know it. */
  teamsAppIds?: string[];
}

/** The app ids in a create body's installedApps binds (`…/appCatalogs/teamsApps/<id>` or `teamsApps('<id>')`). */
export function teamsAppIdsOf(body: { installedApps?: { 'teamsApp@odata.bind'?: unknown }[] } | undefined): string[] {
  const ids: string[] = [];
  for (const app of body?.installedApps ?? []) {
    const bind = app['teamsApp@odata.bind'];
    const match = typeof bind === 'string' ? /teamsApps(?:\/([^/?#()']+)|\('((?:[^']|'')+)'\))\/?$/.exec(bind) : null;
    const id = match?.[1] ?? match?.[2]?.replace(/''/g, "'");
    if (id) ids.push(id);
  }
  return ids;
}

interface GraphErrorBody {
  error?: { code?: string; message?: string; innerError?: Record<string, string> };
}

export function graphError(answer: GraphAnswer, fallbackCode: string): RequestError {
  switch (answer.kind) {
    case 'token':
      return {
        code: answer.code,
        message: tokenHint(answer.code, answer.message),
        retryable: answer.retryable,
        clientRequestId: answer.clientRequestId,
      };
    case 'network':
      return {
        code: answer.code,
        message: answer.timedOut ? 'Graph did not answer in time' : `Could not reach Graph: ${answer.message}`,
        retryable: true,
        clientRequestId: answer.clientRequestId,
      };
    case 'response': {
      const body = (answer.body ?? {}) as GraphErrorBody;
      const inner = body.error?.innerError ?? {};
      return {
        code: body.error?.code ?? fallbackCode,
        message: body.error?.message ?? `Graph answered ${answer.status}`,
        httpStatus: answer.status,
        retryable: false,
        graphRequestId: answer.headers.requestId ?? inner['request-id'],
        clientRequestId: answer.headers.clientRequestId ?? inner['client-request-id'],
      };
    }
  }
}

function tokenHint(code: string, message: string): string {
  const hints: Record<string, string> = {
    invalid_client:
      'Entra ID refused the app credentials: check GRAPH_TENANT_ID, GRAPH_CLIENT_ID and the client secret or certificate (expired or wrong?)',
    unauthorized_client: 'The app is not allowed to use client credentials in this tenant: check the app registration',
    invalid_scope: 'Entra ID refused the scope https://graph.microsoft.com/.default: check the app registration',
    CredentialUnavailableError:
      'No managed identity is available: set GRAPH_CLIENT_SECRET or a certificate, or run where one exists',
  };
  const hint = hints[code] ?? 'Could not get a token for Microsoft Graph';
  return `${hint}. (${message})`;
}

/** Exponential backoff with equal jitter: half the ceiling fixed, the other half random. */
export function backoff(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

function errorMessage(answer: GraphAnswer): string {
  return answer.kind === 'response' ? (((answer.body ?? {}) as GraphErrorBody).error?.message ?? '') : '';
}

function isLicenseProblem(answer: GraphAnswer): boolean {
  if (answer.kind !== 'response' || answer.status !== 403) return false;
  return /license/i.test(errorMessage(answer));
}

/**
 * 404 for the app to install, not a member: Graph's "…non existent App definition". A member not found is
 * "Failed to find users with …", which may quote a UPN with any words in it, so that form never counts.
 */
function isMissingTeamsApp(answer: GraphAnswer): boolean {
  if (answer.kind !== 'response' || answer.status !== 404) return false;
  const message = errorMessage(answer);
  return !/failed to find user/i.test(message) && /app definition|app catalog/i.test(message);
}

/**
 * The known kinds of 403 on the chat endpoints, each with its cause and what to do. A licence problem is
 * not here: it is retried for new hires (grace). Matched on Graph's message, the only thing that tells them apart.
 */
const FORBIDDEN_CAUSES: { match: RegExp; code: string; hint: string }[] = [
  {
    match: /not federated|federat|external access/i,
    code: 'MemberNotFederated',
    hint: "a member belongs to an organization Teams does not federate with this one (external access): a Teams admin must allow that domain in both tenants' external access settings, or the member must be left out",
  },
  {
    match: /missing role permissions|roles on the request|insufficient privileges|authorization_requestdenied/i,
    code: 'MissingPermission',
    hint: 'the app lacks the Microsoft Graph application permission this call needs (Chat.Create to create chats, Chat.ReadBasic.All to read them), or its admin consent: grant it (docs/deploy.md)',
  },
  {
    match: /blocked|policy|not allowed to chat|chat is disabled/i,
    code: 'BlockedByPolicy',
    hint: 'a Teams policy in the tenant stops this chat (chat disabled or a member blocked for the app or the members): a Teams admin must change the policy',
  },
];

/** A 403 other than a missing licence: permanent, with its cause and hint when it is a known one. */
function forbidden(answer: GraphAnswer): RequestError {
  const error = graphError(answer, 'Forbidden');
  const cause = FORBIDDEN_CAUSES.find((c) => c.match.test(error.message));
  if (cause)
    return { ...error, code: cause.code, message: `Graph refused (403): ${cause.hint}. Graph: ${error.message}` };
  return {
    ...error,
    message: `Graph refused (403) for a reason this service does not know; check the app's permissions (Chat.Create, admin consent) and the members' Teams policies. Graph: ${error.message}`,
  };
}

/** 412 PreconditionFailed: Teams serves this call only with a signed-in user; no retry can change that. */
function applicationOnlyRefusal(answer: GraphAnswer, what: string): RequestError {
  const error = graphError(answer, 'PreconditionFailed');
  return {
    ...error,
    code: 'PreconditionFailed',
    retryable: false,
    message: `Graph refused ${what} in application-only context (412 PreconditionFailed): Teams serves it only to a signed-in user, so this service (app-only) cannot make this call; it is not a permission that can be granted. Graph: ${error.message}`,
  };
}

export function decideCreateOutcome(answer: GraphAnswer, ctx: CreateContext): CreateOutcome {
  if (answer.kind === 'token') {
    const error = graphError(answer, 'token_error');
    return answer.retryable ? transient(error, false, ctx) : { kind: 'failed', error };
  }
  if (answer.kind === 'network') return transient(graphError(answer, 'NetworkError'), true, ctx);

  const { status } = answer;
  if (status === 201 || status === 200) {
    const chat = (answer.body ?? {}) as Record<string, unknown>;
    if (typeof chat.id !== 'string' || chat.id === '') {
      return transient(
        { ...graphError(answer, 'InvalidGraphAnswer'), message: 'Graph answered without a chat id' },
        true,
        ctx,
      );
    }
    return {
      kind: 'succeeded',
      chat: {
        id: chat.id,
        webUrl: optionalString(chat.webUrl),
        createdDateTime: optionalString(chat.createdDateTime),
        tenantId: optionalString(chat.tenantId),
      },
    };
  }
  if (status === 202) {
    const location = answer.headers.location;
    if (!location) {
      return transient(
        { ...graphError(answer, 'InvalidGraphAnswer'), message: 'Graph answered 202 without a Location' },
        true,
        ctx,
      );
    }
    return { kind: 'pending', location };
  }
  if (status === 429) {
    const retryAfter = parseRetryAfter(answer.headers.retryAfter, ctx.now);
    const delayMs = retryAfter ?? backoff(ctx.throttles, THROTTLE_BASE_MS, THROTTLE_CAP_MS, ctx.random);
    return {
      kind: 'retry',
      delayMs,
      error: { ...graphError(answer, 'TooManyRequests'), retryable: true },
      outcomeUnknown: false,
      throttledForMs: delayMs,
      counts: 'throttle',
    };
  }
  if (isMissingTeamsApp(answer)) {
    const error = graphError(answer, 'NotFound');
    const apps = ctx.teamsAppIds?.length ? ctx.teamsAppIds.map((id) => `'${id}'`).join(', ') : 'in installedApps';
    return {
      kind: 'failed',
      error: {
        ...error,
        code: 'TeamsAppNotFound',
        retryable: false,
        message: `The Teams app ${apps} is not in the tenant's app catalog (Graph: 404 "non existent App definition"): use the catalog id of an app published to the org (GET /appCatalogs/teamsApps), or publish it first. Not retried: an app does not replicate like a new hire. Graph: ${error.message}`,
      },
    };
  }
  if (isLicenseProblem(answer) || status === 404) {
    return grace(answer, ctx);
  }
  if (status === 400 && INVOCATION_EXCEPTION.test(errorMessage(answer))) {
    // A server fault: Graph may have made the chat, so the next attempt looks first (group chats).
    const error = {
      ...graphError(answer, 'BadRequest'),
      message: `Graph failed inside (400 "Exception has been thrown by the target of an invocation.", a server fault)`,
    };
    if (ctx.transientFailures + 1 >= MAX_INVOCATION_EXCEPTIONS) {
      return {
        kind: 'failed',
        outcomeUnknown: true,
        error: {
          ...error,
          retryable: false,
          message: `${error.message} on ${MAX_INVOCATION_EXCEPTIONS} attempts; if it keeps failing, report it to Microsoft with the request ids`,
        },
      };
    }
    return transient(error, true, ctx);
  }
  if (status === 412) return { kind: 'failed', error: applicationOnlyRefusal(answer, 'creating the chat') };
  if (status >= 500 || status === 408) {
    const error = { ...graphError(answer, 'ServiceUnavailable'), retryable: true };
    const retryAfter = parseRetryAfter(answer.headers.retryAfter, ctx.now);
    const outcome = transient(error, true, ctx);
    if (outcome.kind === 'retry' && retryAfter !== undefined) outcome.delayMs = Math.max(outcome.delayMs, retryAfter);
    return outcome;
  }
  if (status === 403) return { kind: 'failed', error: forbidden(answer) };
  return { kind: 'failed', error: graphError(answer, 'BadRequest') };
}

/**
 * A failed lookup of a member's chats (GET /users/{id}/chats), made because an earlier attempt's
 * outcome is unknown. Posting without it could duplicate a group chat, so it never falls through to
 * a POST: throttling and transient errors retry; a missing member waits out the grace window like a
 * create would; anything else fails, saying what is needed.
 */
export function decideLookupOutcome(answer: GraphAnswer, ctx: CreateContext): CreateOutcome {
  const outcome = decideCreateOutcome(answer, ctx);
  if (outcome.kind === 'retry') {
    // A throttled read spent the read budget ("Other GET API calls"), not the create budget: this request
    // waits Retry-After, but the fleet's create rate is not cut and the other workers are not paused.
    const { throttledForMs: _readThrottle, ...rest } = outcome;
    return { ...rest, outcomeUnknown: true };
  }
  if (outcome.kind !== 'failed' || answer.kind !== 'response' || answer.status >= 500) return outcome;
  if (answer.status === 412) {
    return { kind: 'failed', error: applicationOnlyRefusal(answer, "listing a member's chats") };
  }
  const error = graphError(answer, 'ChatLookupFailed');
  const why =
    answer.status === 403
      ? "Graph refused to list a member's chats: the app needs Chat.ReadBasic.All (application, admin consent)"
      : `Graph refused to list a member's chats (${answer.status})`;
  return {
    kind: 'failed',
    error: {
      ...error,
      message: `${why}, which is how an earlier attempt whose outcome is unknown is checked before posting again. Graph: ${error.message}`,
    },
  };
}

function transient(error: RequestError, outcomeUnknown: boolean, ctx: CreateContext): CreateOutcome {
  if (ctx.transientFailures + 1 >= MAX_TRANSIENT_FAILURES) {
    return {
      kind: 'failed',
      outcomeUnknown,
      error: {
        ...error,
        retryable: false,
        message: `${error.message} (gave up after ${MAX_TRANSIENT_FAILURES} attempts)`,
      },
    };
  }
  return {
    kind: 'retry',
    delayMs: backoff(ctx.transientFailures, TRANSIENT_BASE_MS, TRANSIENT_CAP_MS, ctx.random),
    error: { ...error, retryable: true },
    outcomeUnknown,
    counts: 'transient',
  };
}

function grace(answer: GraphAnswer, ctx: CreateContext): CreateOutcome {
  const error = graphError(answer, answer.kind === 'response' && answer.status === 404 ? 'NotFound' : 'Forbidden');
  const started = ctx.graceStartedAt ? Date.parse(ctx.graceStartedAt) : ctx.now.getTime();
  const elapsed = ctx.now.getTime() - started;
  const windowMs = ctx.graceMinutes * 60_000;
  const what = isLicenseProblem(answer)
    ? 'a member has no Teams license (Graph: "Failed to get license information for the user"); assign an Office 365 / Teams license'
    : 'a member was not found in the directory; check the UPN or object id';
  if (elapsed >= windowMs) {
    return {
      kind: 'failed',
      error: {
        ...error,
        retryable: false,
        message:
          ctx.graceMinutes === 0
            ? `${what}. Not retried: NEW_USER_GRACE_MINUTES is 0 (no grace for new users). Graph: ${error.message}`
            : `${what}. Retried for ${ctx.graceMinutes} minutes (NEW_USER_GRACE_MINUTES) in case the user was new. Graph: ${error.message}`,
      },
    };
  }
  // Growing delays: about half the time waited so far, between 1 and 30 minutes, never past the window.
  const delayMs = Math.min(
    Math.max(GRACE_MIN_DELAY_MS, elapsed / 2),
    GRACE_MAX_DELAY_MS,
    Math.max(1000, windowMs - elapsed),
  );
  return {
    kind: 'retry',
    delayMs: Math.round(delayMs),
    error: {
      ...error,
      retryable: true,
      message: `${what}; retrying while a new user replicates. Graph: ${error.message}`,
    },
    outcomeUnknown: false,
    counts: 'grace',
  };
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

// ---------------------------------------------------------------------------------------------
// Operations (202): what each poll answer does.

/**
 * Microsoft's teamsAsyncOperation page: "wait >30 seconds between checks". The default of
 * OPERATION_CHECK_MIN_SECONDS; every check (the first one too) comes at least this long after the last.
 */
export const OPERATION_MIN_CHECK_MS = 30_000;
/** The first check after a 202, by default: no sooner than any other check. */
export const OPERATION_FIRST_CHECK_MS = OPERATION_MIN_CHECK_MS;
/** After this many checks the interval doubles (up to 4×), so a long deadline costs fewer calls. */
const CHECKS_PER_STEP = 10;

export type PollOutcome =
  | { kind: 'wait'; nextCheckInMs: number; status: string; throttledForMs?: number; error?: RequestError }
  | { kind: 'succeeded'; chatId: string }
  | { kind: 'vanished'; chatId?: string }
  /**
   * Past the deadline Graph could not be asked (429, 5xx, network): whether the chat exists decides, so a
   * request is never failed while the chat it asked for may exist.
   */
  | { kind: 'unanswered'; chatId?: string; error: RequestError }
  | { kind: 'failed'; error: RequestError };

export interface PollContext {
  now: Date;
  startedAt: string;
  checks: number;
  deadlineMinutes: number;
  random: () => number;
  /** Chat id from the Location, the fallback when the operation has no targetResourceId. */
  chatIdFromLocation?: string;
  /** OPERATION_CHECK_MIN_SECONDS in ms; default OPERATION_MIN_CHECK_MS (Microsoft's 30 s). */
  checkMinMs?: number;
}

/**
 * The wait before the next check: never less than `minMs` (Microsoft asks for more than 30 s), doubling
 * every CHECKS_PER_STEP checks up to 4 × `minMs` (30 s for 5 minutes, then 60 s, then 120 s by default).
 */
export function nextCheckDelay(checks: number, minMs: number = OPERATION_MIN_CHECK_MS): number {
  return minMs * Math.min(4, 2 ** Math.floor(Math.max(0, checks) / CHECKS_PER_STEP));
}

export function chatIdFromLocation(location: string): string | undefined {
  const match = /chats\('([^']+)'\)|chats\/([^/?]+)/.exec(location);
  const raw = match?.[1] ?? match?.[2];
  return raw ? decodeURIComponent(raw) : undefined;
}

export function decidePollOutcome(answer: GraphAnswer, ctx: PollContext): PollOutcome {
  const pastDeadline = ctx.now.getTime() - Date.parse(ctx.startedAt) > ctx.deadlineMinutes * 60_000;
  const deadlineFailure: PollOutcome = {
    kind: 'failed',
    error: {
      code: 'OperationTimeout',
      message: `The chat operation did not finish within ${ctx.deadlineMinutes} minutes (OPERATION_DEADLINE_MINUTES)`,
      retryable: false,
    },
  };

  if (answer.kind === 'response' && answer.status === 200) {
    const op = (answer.body ?? {}) as {
      status?: string;
      targetResourceId?: string;
      error?: { code?: string; message?: string };
    };
    switch (op.status) {
      case 'notStarted':
      case 'inProgress':
        return pastDeadline
          ? deadlineFailure
          : { kind: 'wait', nextCheckInMs: nextCheckDelay(ctx.checks, ctx.checkMinMs), status: op.status };
      case 'succeeded': {
        const chatId = op.targetResourceId || ctx.chatIdFromLocation;
        if (!chatId) {
          return {
            kind: 'failed',
            error: {
              code: 'InvalidGraphAnswer',
              message: 'The operation succeeded but named no chat',
              retryable: false,
            },
          };
        }
        return { kind: 'succeeded', chatId };
      }
      case 'failed':
        return {
          kind: 'failed',
          error: {
            ...graphError(answer, 'OperationFailed'),
            code: op.error?.code ?? 'OperationFailed',
            message: `The chat operation failed: ${op.error?.message ?? 'Graph gave no reason'}`,
          },
        };
      default:
        return {
          kind: 'failed',
          error: {
            ...graphError(answer, 'OperationInvalid'),
            code: 'OperationInvalid',
            message: `The chat operation ended in status "${op.status ?? 'none'}", which this service cannot act on`,
          },
        };
    }
  }
  if (answer.kind === 'response' && answer.status === 404) return { kind: 'vanished', chatId: ctx.chatIdFromLocation };

  const throttled = answer.kind === 'response' && answer.status === 429;
  const transient =
    answer.kind === 'network' ||
    (answer.kind === 'token' && answer.retryable) ||
    (answer.kind === 'response' && (answer.status >= 500 || answer.status === 408 || throttled));
  if (transient) {
    if (pastDeadline) {
      return {
        kind: 'unanswered',
        chatId: ctx.chatIdFromLocation,
        error: { ...graphError(answer, 'ServiceUnavailable'), retryable: true },
      };
    }
    const retryAfter = answer.kind === 'response' ? parseRetryAfter(answer.headers.retryAfter, ctx.now) : undefined;
    // A refused check is still a check: the next one keeps Microsoft's interval, and Retry-After if longer.
    const refusedFor = retryAfter ?? backoff(1, THROTTLE_BASE_MS, THROTTLE_CAP_MS, ctx.random);
    const delay = Math.max(refusedFor, nextCheckDelay(ctx.checks, ctx.checkMinMs));
    return {
      kind: 'wait',
      nextCheckInMs: delay,
      status: 'unknown',
      // How long reads are throttled (Retry-After, or the backoff without one), for the caller's read pause.
      throttledForMs: throttled ? refusedFor : undefined,
      error: { ...graphError(answer, 'ServiceUnavailable'), retryable: true },
    };
  }
  if (answer.kind === 'response' && answer.status === 412) {
    return { kind: 'failed', error: applicationOnlyRefusal(answer, 'reading the chat operation') };
  }
  const error = graphError(answer, 'OperationCheckFailed');
  return {
    kind: 'failed',
    error:
      answer.kind === 'response' && answer.status === 403
        ? {
            ...error,
            message: `${error.message} (reading chat operations needs Chat.ReadBasic.All with admin consent)`,
          }
        : error,
  };
}
