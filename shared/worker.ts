import type { ChatSummary, GraphAnswer, GraphChats } from './graph-client';
import {
  chatIdFromLocation,
  CreateOutcome,
  decideCreateOutcome,
  decideLookupOutcome,
  OPERATION_FIRST_CHECK_MS,
} from './graph-outcome';
import type { LogFields, Logger } from './log';
import { ChatRequest, isFinal, State } from './model';
import { lostRace, RequestChanges, RequestStore, Stored, transition } from './request-store';
import { parseRequestMessage, RequestQueue } from './request-queue';
import type { GraphRateGate } from './throttle';
import { userFromBind } from './request-schema';
import { recordFinal } from './telemetry';

/**
 * The queue worker: creates each chat exactly once.
 * - queued → creating is a conditional write, so two deliveries cannot both call Graph.
 * - The attempt is recorded before Graph is called. A later delivery that finds `creating` after the
 *   attempt's lease ran out, or a request marked `outcomeUnknownSince`, first looks for the group chat
 *   the earlier attempt may have made and adopts it instead of posting again (Graph dedupes 1:1 chats).
 * - Retries are re-enqueued messages with a visibility delay; the function only throws when storage
 *   is unavailable (then the host redelivers the message).
 */

/** Longer than a Graph call can take (timeout) plus the writes around it. */
export const ATTEMPT_LEASE_MS = 2 * 60_000;
/** Clock skew allowance when looking for a chat made since an attempt started. */
const LOOKUP_SKEW_MS = 2 * 60_000;
/** Wait in-process for a send slot up to this long; longer waits go back to the queue. */
const MAX_IN_PROCESS_WAIT_MS = 2_000;

export interface WorkerDeps {
  store: RequestStore;
  queue: RequestQueue;
  graph: GraphChats;
  gate: GraphRateGate;
  graceMinutes: number;
  log: Logger;
  now?: () => Date;
  random?: () => number;
  /** Called with every request that reached a final state (callbacks). */
  onFinal?: (request: ChatRequest) => Promise<void>;
}

export type WorkResult =
  | 'invalid-message'
  | 'unknown-request'
  | 'stale-message'
  | 'deferred'
  | 'lost-race'
  | 'succeeded'
  | 'adopted'
  | 'pending'
  | 'retry'
  | 'failed';

export async function processRequestMessage(input: unknown, deps: WorkerDeps): Promise<WorkResult> {
  const now = deps.now ?? (() => new Date());
  const parsed = parseRequestMessage(input);
  if (!parsed.ok) {
    deps.log('warn', 'message.invalid', { reason: parsed.reason });
    return 'invalid-message';
  }
  const message = parsed.value;
  const stored = await deps.store.get(message.id);
  if (!stored) {
    deps.log('warn', 'message.unknownRequest', { requestId: message.id });
    return 'unknown-request';
  }
  const request = stored.value;
  const fields = { requestId: request.id, attempt: request.attempts };

  if (isFinal(request.state) || request.state === State.pending) {
    deps.log('debug', 'message.stale', { ...fields, state: request.state });
    return 'stale-message';
  }

  let owned: Stored<ChatRequest>;
  try {
    if (request.state === State.queued) {
      // Only the message sent for the current attempt counts; older duplicates are dropped.
      if (message.attempt !== request.attempts) {
        deps.log('debug', 'message.stale', { ...fields, messageAttempt: message.attempt });
        return 'stale-message';
      }
      const dueAt = Math.max(dateMs(request.nextAttemptAt), dateMs(request.notBefore));
      if (dueAt > now().getTime() + 1000) {
        await deps.queue.send(message, (dueAt - now().getTime()) / 1000);
        deps.log('debug', 'request.deferred', { ...fields, dueAt: new Date(dueAt).toISOString() });
        return 'deferred';
      }
      const admission = await deps.gate.acquire(MAX_IN_PROCESS_WAIT_MS);
      if (!admission.ok) {
        await deps.queue.send(message, admission.retryInMs / 1000);
        deps.log('debug', 'request.throttledLocally', { ...fields, retryInMs: admission.retryInMs });
        return 'deferred';
      }
      owned = await transition(
        deps.store,
        stored,
        State.creating,
        { attempts: request.attempts + 1, attemptStartedAt: now().toISOString(), nextAttemptAt: undefined },
        now(),
      );
    } else {
      // creating: an earlier attempt is in flight or died. Take over only once its lease has run out.
      const leaseEnds = dateMs(request.attemptStartedAt) + ATTEMPT_LEASE_MS;
      if (leaseEnds > now().getTime()) {
        await deps.queue.send(message, (leaseEnds - now().getTime()) / 1000 + 1);
        deps.log('debug', 'attempt.inFlight', fields);
        return 'deferred';
      }
      const admission = await deps.gate.acquire(MAX_IN_PROCESS_WAIT_MS);
      if (!admission.ok) {
        await deps.queue.send(message, admission.retryInMs / 1000);
        return 'deferred';
      }
      owned = await transition(
        deps.store,
        stored,
        State.creating,
        {
          attempts: request.attempts + 1,
          attemptStartedAt: now().toISOString(),
          outcomeUnknownSince: request.outcomeUnknownSince ?? request.attemptStartedAt,
        },
        now(),
      );
      deps.log('warn', 'attempt.takeover', { requestId: request.id, attempt: owned.value.attempts });
    }
  } catch (error) {
    if (lostRace(error)) {
      deps.log('debug', 'attempt.lostRace', fields);
      return 'lost-race';
    }
    throw error;
  }
  return attempt(owned, deps, now);
}

async function attempt(owned: Stored<ChatRequest>, deps: WorkerDeps, now: () => Date): Promise<WorkResult> {
  const request = owned.value;
  const fields = { requestId: request.id, attempt: request.attempts };
  const random = deps.random ?? Math.random;

  if (request.chatType === 'group' && request.outcomeUnknownSince) {
    const found = await findEarlierChat(request, deps);
    if (found.kind === 'found') {
      deps.log('warn', 'chat.adopted', { ...fields, chatId: found.chat.id });
      await finish(
        owned,
        State.succeeded,
        {
          chat: {
            id: found.chat.id,
            webUrl: found.chat.webUrl,
            createdDateTime: found.chat.createdDateTime,
            tenantId: found.chat.tenantId,
          },
        },
        deps,
        now,
      );
      return 'adopted';
    }
    if (found.kind === 'error') {
      const outcome = decideLookupOutcome(found.answer, context(request, deps, now, random));
      await recordGateOutcome(outcome, deps);
      deps.log('debug', 'graph.listUserChats', {
        ...fields,
        ...answerFields(found.answer),
        outcome: outcome.kind,
      });
      return applyOutcome(owned, outcome, deps, now, true);
    }
    deps.log('debug', 'chat.notFoundEarlier', fields);
  }

  const answer = await deps.graph.createChat(request.graphBody);
  const outcome = decideCreateOutcome(answer, context(request, deps, now, random));
  await recordGateOutcome(outcome, deps);
  deps.log('debug', 'graph.createChat', {
    ...fields,
    ...answerFields(answer),
    outcome: outcome.kind,
  });
  return applyOutcome(owned, outcome, deps, now, false);
}

/** What Graph accepted and refused feeds the shared rate (AIMD) and pause. */
async function recordGateOutcome(outcome: CreateOutcome, deps: WorkerDeps): Promise<void> {
  if (outcome.kind === 'succeeded' || outcome.kind === 'pending') deps.gate.recordAccepted();
  if (outcome.kind === 'retry' && outcome.throttledForMs !== undefined) {
    // The shared row is an optimisation: a storage hiccup here must not lose the answer.
    await deps.gate.recordThrottle(outcome.throttledForMs).catch(() => undefined);
  }
}

function answerFields(answer: GraphAnswer): LogFields {
  return answer.kind === 'response'
    ? {
        graphRequestId: answer.headers.requestId,
        clientRequestId: answer.headers.clientRequestId,
        status: answer.status,
      }
    : { clientRequestId: answer.clientRequestId, status: answer.kind, code: answer.code };
}

function context(request: ChatRequest, deps: WorkerDeps, now: () => Date, random: () => number) {
  return {
    now: now(),
    graceStartedAt: request.graceStartedAt,
    graceMinutes: deps.graceMinutes,
    transientFailures: request.transientFailures ?? 0,
    throttles: request.error?.code === 'TooManyRequests' ? Math.max(0, request.attempts - 1) : 0,
    random,
  };
}

async function applyOutcome(
  owned: Stored<ChatRequest>,
  outcome: CreateOutcome,
  deps: WorkerDeps,
  now: () => Date,
  fromLookup: boolean,
): Promise<WorkResult> {
  const request = owned.value;
  try {
    switch (outcome.kind) {
      case 'succeeded':
        await Promise.all([
          claimOwnChat(request, outcome.chat.id, deps),
          finish(owned, State.succeeded, { chat: outcome.chat }, deps, now),
        ]);
        return 'succeeded';
      case 'pending': {
        const at = now();
        const chatId = chatIdFromLocation(outcome.location);
        if (chatId) await claimOwnChat(request, chatId, deps);
        await transition(
          deps.store,
          owned,
          State.pending,
          {
            operation: {
              location: deps.graph.resolveLocation(outcome.location),
              status: 'notStarted',
              checks: 0,
              startedAt: at.toISOString(),
              nextCheckAt: new Date(at.getTime() + OPERATION_FIRST_CHECK_MS).toISOString(),
            },
            attemptStartedAt: undefined,
            outcomeUnknownSince: undefined,
            error: undefined,
          },
          at,
        );
        return 'pending';
      }
      case 'failed': {
        // Keep the mark when Graph may have made the chat, so an ops retry looks before posting.
        const unknown = outcome.outcomeUnknown || fromLookup || request.outcomeUnknownSince !== undefined;
        await finish(
          owned,
          State.failed,
          {
            error: outcome.error,
            outcomeUnknownSince: unknown ? (request.outcomeUnknownSince ?? request.attemptStartedAt) : undefined,
          },
          deps,
          now,
        );
        return 'failed';
      }
      case 'retry': {
        const at = now();
        const nextAttemptAt = new Date(at.getTime() + outcome.delayMs).toISOString();
        const changes: RequestChanges = {
          nextAttemptAt,
          error: outcome.error,
          attemptStartedAt: undefined,
          // A lookup that failed leaves the earlier unknown outcome in place; a known answer clears it.
          outcomeUnknownSince:
            outcome.outcomeUnknown || fromLookup
              ? (request.outcomeUnknownSince ?? request.attemptStartedAt)
              : undefined,
          transientFailures: (request.transientFailures ?? 0) + (outcome.counts === 'transient' ? 1 : 0),
          graceStartedAt:
            outcome.counts === 'grace' ? (request.graceStartedAt ?? at.toISOString()) : request.graceStartedAt,
        };
        // The marker first: if the message cannot be sent (or we die), the timer sends it.
        await deps.store.markUnsent([request.id], at);
        const queued = await transition(deps.store, owned, State.queued, changes, at);
        await deps.queue.send({ id: request.id, attempt: queued.value.attempts }, outcome.delayMs / 1000);
        await deps.store.clearUnsent(request.id).catch(() => undefined);
        deps.log('info', 'request.retryScheduled', {
          requestId: request.id,
          attempt: request.attempts,
          graphRequestId: outcome.error.graphRequestId,
          delayMs: outcome.delayMs,
          nextAttemptAt,
          reason: outcome.counts,
          code: outcome.error.code,
        });
        return 'retry';
      }
    }
  } catch (error) {
    if (lostRace(error)) {
      deps.log('warn', 'attempt.lostRace', { requestId: request.id, attempt: request.attempts });
      return 'lost-race';
    }
    throw error;
  }
}

/**
 * Records that the group chat Graph just made is this request's, so a twin request (same topic and members)
 * looking for the chat its own lost POST made cannot adopt this one. Best effort: the answer is already in.
 */
async function claimOwnChat(request: ChatRequest, chatId: string, deps: WorkerDeps): Promise<void> {
  if (request.chatType !== 'group') return;
  try {
    const owner = await deps.store.claimChat(chatId, request.id);
    if (owner !== request.id)
      deps.log('warn', 'chat.ownedByAnother', { requestId: request.id, attempt: request.attempts, chatId, owner });
  } catch (error) {
    deps.log('warn', 'chat.claimFailed', {
      requestId: request.id,
      attempt: request.attempts,
      chatId,
      error: (error as Error)?.name,
    });
  }
}

async function finish(
  owned: Stored<ChatRequest>,
  to: typeof State.succeeded | typeof State.failed,
  changes: RequestChanges,
  deps: WorkerDeps,
  now: () => Date,
): Promise<void> {
  const done = await transition(
    deps.store,
    owned,
    to,
    {
      attemptStartedAt: undefined,
      outcomeUnknownSince: undefined,
      nextAttemptAt: undefined,
      ...(to === State.succeeded ? { error: undefined } : {}),
      ...changes,
    },
    now(),
  );
  deps.log(to === State.failed ? 'warn' : 'info', `request.${to}`, {
    requestId: done.value.id,
    attempt: done.value.attempts,
    code: done.value.error?.code,
    graphRequestId: done.value.error?.graphRequestId,
  });
  recordFinal(done.value);
  if (deps.onFinal) await deps.onFinal(done.value);
}

type Lookup = { kind: 'found'; chat: ChatSummary } | { kind: 'none' } | { kind: 'error'; answer: GraphAnswer };

/** Graph lists at most this many members per chat with $expand=members. */
const EXPANDED_MEMBERS_CAP = 25;

/** Looks for a group chat an earlier attempt may have made: same type, topic and members, created since. */
async function findEarlierChat(request: ChatRequest, deps: WorkerDeps): Promise<Lookup> {
  const since = new Date(dateMs(request.outcomeUnknownSince) - LOOKUP_SKEW_MS);
  const members = request.graphBody.members.map((m) => ({
    user: (userFromBind(m['user@odata.bind']) ?? '').toLowerCase(),
    federated: Boolean(m.tenantId),
  }));
  const wanted = new Set(members.map((m) => m.user));
  // A member of this tenant: the app cannot list a federated user's chats.
  const listed = members.find((m) => !m.federated) ?? members[0];
  const result = await deps.graph.listUserChats(listed?.user ?? '', since);
  if (!result.ok) return { kind: 'error', answer: result.answer };
  const topic = request.graphBody.topic ?? null;
  const matches = result.chats.filter((chat) => {
    if (chat.chatType !== 'group' || (chat.topic ?? null) !== topic) return false;
    // Graph expands at most 25 members: then every listed member must be one of ours.
    if (chat.members.length !== Math.min(wanted.size, EXPANDED_MEMBERS_CAP)) return false;
    const have = chat.members.map((m) => [m.userId?.toLowerCase(), m.email?.toLowerCase()]);
    const listedAreOurs = have.every((ids) => ids.some((id) => id !== undefined && wanted.has(id)));
    if (wanted.size > EXPANDED_MEMBERS_CAP) return listedAreOurs;
    const haveIds = new Set(have.flat().filter((id): id is string => id !== undefined));
    return listedAreOurs && [...wanted].every((user) => haveIds.has(user));
  });
  // Identical chats can belong to other requests: try the likeliest first (the first made after our attempt
  // began, then those just before it, within clock skew), and take only one no other request owns.
  for (const chat of orderCandidates(matches, dateMs(request.outcomeUnknownSince))) {
    const owner = await deps.store.claimChat(chat.id, request.id);
    if (owner === request.id) return { kind: 'found', chat };
    deps.log('debug', 'chat.skippedOwned', {
      requestId: request.id,
      attempt: request.attempts,
      chatId: chat.id,
      owner,
    });
  }
  return { kind: 'none' };
}

/** Chats made at or after `since` (oldest first), then the ones before it (newest first). */
export function orderCandidates<T extends { createdDateTime?: string }>(chats: T[], since: number): T[] {
  const at = (chat: T): number => dateMs(chat.createdDateTime);
  const after = chats.filter((c) => at(c) >= since).sort((a, b) => at(a) - at(b));
  const before = chats.filter((c) => at(c) < since).sort((a, b) => at(b) - at(a));
  return [...after, ...before];
}

function dateMs(value: string | undefined): number {
  const ms = value ? Date.parse(value) : 0;
  return Number.isNaN(ms) ? 0 : ms;
}
