import { ChatRequest, ChatRequestResource, isFinal, State, toResource, Waiting } from '../core/model';
import { STALE_CREATING_MS } from './poller';
import { ATTEMPT_LEASE_MS } from './worker';

/**
 * Why an unfinished request is not moving right now, in one sentence: the `waiting` field of the request
 * resource (GET /api/requests/{id}, the list, `npx chat-provisioner watch`/`status`, the ops page). Pure:
 * it reads only the stored row and the clock, so a status read costs nothing extra.
 */

/**
 * How long the Functions host keeps a received queue message invisible while its function runs (renewed
 * at half-time while it runs). A host that dies holding messages leaves them invisible this long.
 */
export const QUEUE_LEASE_MS = 10 * 60_000;
/** A due `queued` request not taken for this long is worth a word about host crashes. */
export const OVERDUE_MS = 60_000;

export interface WaitingContext {
  now: Date;
  /** NEW_USER_GRACE_MINUTES, to say when the grace window ends (omitted when unknown). */
  graceMinutes?: number;
}

/** Why `request` waits, or undefined for a final request. */
export function waitingFor(
  request: Pick<
    ChatRequest,
    | 'state'
    | 'notBefore'
    | 'nextAttemptAt'
    | 'attempts'
    | 'updatedAt'
    | 'createdAt'
    | 'error'
    | 'operation'
    | 'attemptStartedAt'
    | 'graceStartedAt'
  >,
  context: WaitingContext,
): Waiting | undefined {
  if (isFinal(request.state)) return undefined;
  const now = context.now.getTime();
  if (request.state === State.pending) return pendingOperation(request, now);
  if (request.state === State.creating) return inFlight(request, now);

  // queued: due at the later of notBefore and the next attempt.
  const notBefore = ms(request.notBefore);
  const nextAttempt = ms(request.nextAttemptAt);
  if (notBefore !== undefined && notBefore > now && (nextAttempt === undefined || notBefore >= nextAttempt)) {
    return {
      reason: 'notBefore',
      until: iso(notBefore),
      message: `Waits for its notBefore time, ${iso(notBefore)}, as the caller asked.`,
    };
  }
  if (nextAttempt !== undefined && nextAttempt > now) return retry(request, nextAttempt, context);
  const dueSince = Math.max(notBefore ?? 0, nextAttempt ?? 0, ms(request.updatedAt) ?? ms(request.createdAt) ?? 0);
  if (now - dueSince <= OVERDUE_MS) {
    return { reason: 'inQueue', message: 'In the queue, waiting for a worker to take it.' };
  }
  return {
    reason: 'inQueue',
    message:
      `Due since ${iso(dueSince)} and not taken yet: the queue is long (see queueDepth in /api/health), ` +
      `or a host that received its message stopped, and the queue hands it out again when that host's ` +
      `lease on it runs out (${QUEUE_LEASE_MS / 60_000} minutes in Azure; LOCAL_QUEUE_LEASE_SECONDS under the local host).`,
  };
}

function retry(
  request: Pick<ChatRequest, 'error' | 'graceStartedAt' | 'attempts'>,
  until: number,
  context: WaitingContext,
): Waiting {
  const error = request.error;
  const at = iso(until);
  if (error?.httpStatus === 429) {
    return {
      reason: 'throttled',
      until: at,
      message: `Microsoft Graph throttled the app (429); attempt ${request.attempts + 1} is at ${at}.`,
    };
  }
  if (request.graceStartedAt && (error?.httpStatus === 404 || error?.httpStatus === 403)) {
    const started = ms(request.graceStartedAt);
    const ends =
      started !== undefined && context.graceMinutes !== undefined
        ? `, until the ${context.graceMinutes}-minute new-hire grace ends at ${iso(started + context.graceMinutes * 60_000)}`
        : '';
    return {
      reason: 'newHireGrace',
      until: at,
      message: `A member is not in the directory or has no Teams license yet; retried at ${at} in case they are a new hire${ends}.`,
    };
  }
  const why = error
    ? `the last attempt failed (${error.code}${error.httpStatus ? `, HTTP ${error.httpStatus}` : ''})`
    : 'the last attempt did not finish';
  return { reason: 'retryBackoff', until: at, message: `Retrying at ${at}: ${why}.` };
}

function pendingOperation(request: Pick<ChatRequest, 'operation'>, now: number): Waiting {
  const next = ms(request.operation?.nextCheckAt);
  const status = request.operation?.status ?? 'unknown';
  if (next !== undefined && next > now) {
    return {
      reason: 'operationPending',
      until: iso(next),
      message: `Graph is still creating the chat (operation ${status}); it is checked again at ${iso(next)}.`,
    };
  }
  return {
    reason: 'operationPending',
    message: `Graph is still creating the chat (operation ${status}); the timer checks it on its next tick.`,
  };
}

function inFlight(request: Pick<ChatRequest, 'attemptStartedAt' | 'attempts'>, now: number): Waiting {
  const started = ms(request.attemptStartedAt) ?? now;
  const leaseEnds = started + ATTEMPT_LEASE_MS;
  if (leaseEnds > now) {
    return {
      reason: 'leased',
      until: iso(leaseEnds),
      message:
        `Attempt ${request.attempts} has been calling Graph since ${iso(started)}; ` +
        `if its host stopped, another worker takes over after ${iso(leaseEnds)}.`,
    };
  }
  // The worker is gone (a host crash). Its queue message stays invisible until that host's lease runs out,
  // but the timer hands the request back to the queue sooner, once the attempt is STALE_CREATING_MS old.
  const back = started + Math.min(QUEUE_LEASE_MS, STALE_CREATING_MS);
  const stopped = `The host running attempt ${request.attempts} (started ${iso(started)}) stopped answering, probably a crash, and holds its queue message`;
  if (back > now) {
    return {
      reason: 'leased',
      until: iso(back),
      message: `${stopped}; the timer hands the request back to the queue at ${iso(back)}.`,
    };
  }
  return {
    reason: 'leased',
    message: `${stopped}; the timer should have handed it back to the queue at ${iso(back)}: check that a host is running (GET /api/health).`,
  };
}

function ms(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? undefined : parsed;
}

function iso(value: number): string {
  return new Date(value).toISOString().replace(/\.000Z$/, 'Z');
}

/** The request resource as the API shows it: the stored row without internal fields, plus `waiting`. */
export function requestView(request: ChatRequest, context: WaitingContext): ChatRequestResource {
  const waiting = waitingFor(request, context);
  return waiting ? { ...toResource(request), waiting } : toResource(request);
}
