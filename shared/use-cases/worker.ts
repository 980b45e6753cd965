import pLimit from 'p-limit';
import { UNFILTERED_PAGE_LIMIT } from '../graph/graph-client';
import type { ChatSummary, GraphAnswer, GraphChats } from '../graph/graph-client';
import {
  chatIdFromLocation,
  CreateOutcome,
  decideCreateOutcome,
  decideLookupOutcome,
  MAX_TRANSIENT_FAILURES,
  teamsAppIdsOf,
  OPERATION_FIRST_CHECK_MS,
} from '../core/graph-retry-policy';
import type { LogFields, Logger } from '../platform/log';
import { ChatRequest, isFinal, State } from '../core/model';
import { lostRace, RequestChanges, RequestStore, Stored, transition, transitionAndSend } from '../core/request-store';
import { mayPrecedeItsRow, parseRequestMessage } from '../core/queue/message';
import type { RequestMessage, RequestQueue } from '../core/queue/port';
import type { GraphRateGate } from '../core/rate/gate';
import { userFromBind } from '../core/request/binds';
import { recordFinal } from '../platform/telemetry';

/**
 * The queue worker: creates each chat exactly once.
 * - queued → creating is a conditional write, so two deliveries cannot both call Graph.
 * - The attempt is recorded before Graph is called. A later delivery that finds `creating` after the
 *   attempt's lease ran out, or a request marked `outcomeUnknownSince`, first looks for the group chat
 *   the earlier attempt may have made and adopts it instead of posting again (Graph dedupes 1:1 chats).
 * - Retries are re-enqueued messages with a visibility delay; the function only throws when storage
 *   is unavailable (then the host redelivers the message).
 * - Out of transient retries after a group-chat POST whose answer was lost, it does not fail at once: one
 *   last attempt only looks for the chat (FINAL_LOOK_DELAY_MS later) and adopts it, or fails without posting.
 */

/** Longer than a Graph call can take (timeout) plus the writes around it. */
export const ATTEMPT_LEASE_MS = 2 * 60_000;
/** Clock skew allowance when looking for a chat made since an attempt started. */
const LOOKUP_SKEW_MS = 2 * 60_000;
/** Wait in-process for a send slot up to this long; longer waits go back to the queue. */
const MAX_IN_PROCESS_WAIT_MS = 2_000;
/**
 * The last look for a group chat whose POST answer was lost when the transient retries ran out: late enough
 * for the chat to show in its members' chat lists.
 */
export const FINAL_LOOK_DELAY_MS = 30_000;
/** A message that came before its row (mayPrecedeItsRow) comes back this much later. */
export const MISSING_ROW_RETRY_SECONDS = 5;

export interface WorkerDeps {
  store: RequestStore;
  queue: RequestQueue;
  graph: GraphChats;
  gate: GraphRateGate;
  graceMinutes: number;
  /** OPERATION_CHECK_MIN_SECONDS in ms: the first check of a 202's operation comes no sooner. */
  operationCheckMinMs?: number;
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
  if (!stored) return missingRow(message, deps, now());
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

/**
 * A message whose row is not in the table. Young (sentAt under 10 minutes old, see mayPrecedeItsRow):
 * intake may still be inserting the row, so the same message comes back shortly. Otherwise (older, or no
 * sentAt: a message sent for a row that existed, or from before sentAt) there is nothing to do: dropped.
 */
async function missingRow(message: RequestMessage, deps: WorkerDeps, now: Date): Promise<WorkResult> {
  if (mayPrecedeItsRow(message, now)) {
    await deps.queue.send(message, MISSING_ROW_RETRY_SECONDS);
    deps.log('debug', 'message.rowNotYetWritten', {
      requestId: message.id,
      messageAttempt: message.attempt,
      sentAt: message.sentAt,
      retryInSeconds: MISSING_ROW_RETRY_SECONDS,
    });
    return 'deferred';
  }
  deps.log('warn', 'message.unknownRequest', { requestId: message.id, sentAt: message.sentAt });
  return 'unknown-request';
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
      const decided = decideLookupOutcome(found.answer, context(request, deps, now, random));
      const outcome = found.call === 'getUser' ? userLookupOutcome(decided, found.answer) : decided;
      await recordGateOutcome(outcome, deps);
      deps.log(
        outcome.kind === 'failed' ? 'warn' : 'debug',
        found.call === 'getUser' ? 'graph.getUser' : 'graph.listUserChats',
        {
          ...fields,
          ...answerFields(found.answer),
          outcome: outcome.kind,
        },
      );
      return applyOutcome(owned, outcome, deps, now, true);
    }
    if (found.kind === 'incomplete') {
      deps.log('warn', 'chat.lookupIncomplete', { ...fields, membersListed: found.membersListed });
      return applyOutcome(owned, lookupIncomplete(found.membersListed), deps, now, true);
    }
    deps.log('debug', 'chat.notFoundEarlier', fields);
    // The last look (the retries ran out on a lost answer) found nothing: give up without posting again.
    if ((request.transientFailures ?? 0) >= MAX_TRANSIENT_FAILURES && request.error) {
      deps.log('warn', 'chat.finalLookFoundNone', fields);
      await finish(
        owned,
        State.failed,
        { error: { ...request.error, retryable: false }, outcomeUnknownSince: request.outcomeUnknownSince },
        deps,
        now,
      );
      return 'failed';
    }
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

/** A refused `GET /users/{upn}` names the permission it needs, not the chat-listing one. */
function userLookupOutcome(outcome: CreateOutcome, answer: GraphAnswer): CreateOutcome {
  if (outcome.kind !== 'failed' || answer.kind !== 'response') return outcome;
  const graph = outcome.error.message.replace(/^.*Graph: /s, '');
  const why =
    answer.status === 403
      ? 'Graph refused to read a member by UPN: the app needs User.ReadBasic.All (application, admin consent)'
      : `Graph refused to read a member by UPN (${answer.status})`;
  return {
    ...outcome,
    error: {
      ...outcome.error,
      message: `${why}. Chat members are listed by object id, so members named by UPN are resolved to check whether an earlier attempt whose outcome is unknown made the chat. Graph: ${graph}`,
    },
  };
}

/**
 * Every member listed has more chats than the bound and none of those is ours: the chat may exist further
 * on. Posting again could make a second chat, so the request fails, naming what to check; the unknown
 * outcome stays marked, so an ops retry looks again first.
 */
function lookupIncomplete(membersListed: number): CreateOutcome {
  return {
    kind: 'failed',
    outcomeUnknown: true,
    error: {
      code: 'ChatLookupIncomplete',
      retryable: false,
      message: `Graph may have made this chat in an earlier attempt whose answer was lost, and it could not be confirmed: each of the ${membersListed} member(s) listed has more chats than the lookup reads (up to ${UNFILTERED_PAGE_LIMIT * 50} when Graph refuses to filter them by creation time). Look for the chat in Teams (same topic and members); if it is not there, submit the request again under a new externalId.`,
    },
  };
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
    teamsAppIds: teamsAppIdsOf(request.graphBody),
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
              nextCheckAt: new Date(
                at.getTime() + (deps.operationCheckMinMs ?? OPERATION_FIRST_CHECK_MS),
              ).toISOString(),
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
        if (outcome.outcomeUnknown && !fromLookup && request.chatType === 'group') {
          // The retries ran out on a POST whose answer was lost: the chat may exist. One last attempt only looks.
          const at = now();
          await transitionAndSend(
            deps,
            owned,
            State.queued,
            {
              nextAttemptAt: new Date(at.getTime() + FINAL_LOOK_DELAY_MS).toISOString(),
              error: outcome.error,
              attemptStartedAt: undefined,
              outcomeUnknownSince: request.outcomeUnknownSince ?? request.attemptStartedAt,
              transientFailures: Math.max(MAX_TRANSIENT_FAILURES, request.transientFailures ?? 0),
            },
            at,
            { delaySeconds: FINAL_LOOK_DELAY_MS / 1000 },
          );
          deps.log('warn', 'chat.finalLookScheduled', { requestId: request.id, attempt: request.attempts });
          return 'retry';
        }
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
        // A failed send throws (the host redelivers); the marker makes the timer send it in any case.
        await transitionAndSend(deps, owned, State.queued, changes, at, { delaySeconds: outcome.delayMs / 1000 });
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

type Lookup =
  | { kind: 'found'; chat: ChatSummary }
  | { kind: 'none' }
  /** Graph refused or failed a call of the lookup: listing a member's chats, or reading a member's object id. */
  | { kind: 'error'; answer: GraphAnswer; call: 'listChats' | 'getUser' }
  /** Every member listed has more chats than the listing's bound, and none of those listed is ours. */
  | { kind: 'incomplete'; membersListed: number };

/** Graph lists at most this many members per chat with $expand=members. */
const EXPANDED_MEMBERS_CAP = 25;
/** Members of this tenant whose chats are listed, one after another, while each listing ends at its page bound. */
export const MAX_LISTED_MEMBERS = 3;

/**
 * A member of the request as the lookup matches it. Graph lists a chat's members with `userId` = object id and
 * `email` = mail (often not the UPN), so members named by UPN are matched by the object id the directory gives
 * for the UPN; another organisation's users named by UPN cannot be read here, and are matched by mail or tenant.
 */
export interface WantedMember {
  /** The id or UPN of the bind, lower-cased. */
  reference: string;
  /** The object id, lower-cased, once known. */
  id?: string;
  /** Another organisation's tenant, lower-cased. */
  tenantId?: string;
  federated: boolean;
}

function wantedMembers(request: ChatRequest): WantedMember[] {
  return request.graphBody.members.map((m) => {
    const reference = (userFromBind(m['user@odata.bind']) ?? '').toLowerCase();
    const federated = Boolean(m.tenantId);
    return {
      reference,
      ...(reference.includes('@') ? {} : { id: reference }),
      ...(federated ? { tenantId: String(m.tenantId).toLowerCase() } : {}),
      federated,
    };
  });
}

/** Same type, topic and (expanded) member count: worth resolving the members for. */
function sameShape(chat: ChatSummary, topic: string | null, memberCount: number): boolean {
  return (
    chat.chatType === 'group' &&
    (chat.topic ?? null) === topic &&
    chat.members.length === Math.min(memberCount, EXPANDED_MEMBERS_CAP)
  );
}

/**
 * Whether a listed chat's members are the request's: by object id first; members without a known object id
 * (another organisation's, named by UPN) by mail, else by their tenant. Graph expands at most 25 members:
 * beyond that, every listed member must be one of ours.
 */
export function sameMembers(chat: Pick<ChatSummary, 'members'>, wanted: readonly WantedMember[]): boolean {
  const left = [...wanted];
  const take = (test: (w: WantedMember) => boolean): boolean => {
    const index = left.findIndex(test);
    if (index < 0) return false;
    left.splice(index, 1);
    return true;
  };
  const byId = chat.members.filter((m) => {
    const userId = m.userId?.toLowerCase();
    return !(userId && take((w) => w.id === userId));
  });
  const byMail = byId.filter((m) => {
    const email = m.email?.toLowerCase();
    return !(email && take((w) => w.id === undefined && w.reference === email));
  });
  for (const member of byMail) {
    const tenantId = member.tenantId?.toLowerCase();
    if (!(tenantId && take((w) => w.id === undefined && w.tenantId === tenantId))) return false;
  }
  return wanted.length > EXPANDED_MEMBERS_CAP || left.length === 0;
}

type Resolution = { kind: 'resolved' } | { kind: 'absent' } | { kind: 'error'; answer: GraphAnswer };

/** User reads in flight at once while resolving members: a 200-member chat takes 20 rounds, not 200. */
const USER_READ_CONCURRENCY = 10;

/** Gives every member of this tenant named by UPN its object id (each UPN read once per attempt). */
async function resolveMemberIds(wanted: WantedMember[], deps: WorkerDeps): Promise<Resolution> {
  const limit = pLimit(USER_READ_CONCURRENCY);
  const unresolved = wanted.filter((m) => m.id === undefined && !m.federated);
  const lookups = await Promise.all(unresolved.map((m) => limit(() => deps.graph.getUserId(m.reference))));
  let failed: GraphAnswer | undefined;
  for (const [index, lookup] of lookups.entries()) {
    if (lookup.ok) {
      (unresolved[index] as WantedMember).id = lookup.id.toLowerCase();
      continue;
    }
    // Not in the directory: Graph cannot have made a chat with this user, and will not make one now.
    if (lookup.notFound) return { kind: 'absent' };
    failed ??= lookup.answer;
  }
  return failed ? { kind: 'error', answer: failed } : { kind: 'resolved' };
}

/**
 * Looks for a group chat an earlier attempt may have made: same type, topic and members, created since.
 * Lists a member of this tenant (the app cannot list another organisation's user); if that listing stopped at
 * its page bound without finding the chat (Graph refused the date filter and the member has many chats), the
 * next member, up to MAX_LISTED_MEMBERS. The body sent to Graph is never changed: ids are only compared.
 */
async function findEarlierChat(request: ChatRequest, deps: WorkerDeps): Promise<Lookup> {
  const fields = { requestId: request.id, attempt: request.attempts };
  const unknownSince = dateMs(request.outcomeUnknownSince);
  const since = new Date(unknownSince - LOOKUP_SKEW_MS);
  const wanted = wantedMembers(request);
  const inTenant = wanted.filter((m) => !m.federated);
  const listed = (inTenant.length > 0 ? inTenant : wanted).slice(0, MAX_LISTED_MEMBERS);
  const topic = request.graphBody.topic ?? null;
  let resolved = false;
  const seen = new Set<string>();
  for (const member of listed) {
    const listing = await deps.graph.listUserChats(member.id ?? member.reference, since);
    if (!listing.ok) return { kind: 'error', answer: listing.answer, call: 'listChats' };
    if (listing.filterRefused) deps.log('info', 'graph.listUserChats.filterRefused', fields);
    const candidates = listing.chats.filter((chat) => !seen.has(chat.id) && sameShape(chat, topic, wanted.length));
    if (candidates.length > 0 && !resolved) {
      // A member whose tenantId is the chats' own tenant (ours) is not another organisation's: read its id too.
      const home = candidates[0]?.tenantId?.toLowerCase();
      for (const m of wanted) if (m.federated && home !== undefined && m.tenantId === home) m.federated = false;
      const resolution = await resolveMemberIds(wanted, deps);
      if (resolution.kind === 'error') return { kind: 'error', answer: resolution.answer, call: 'getUser' };
      if (resolution.kind === 'absent') return { kind: 'none' };
      resolved = true;
    }
    const matches = candidates.filter((chat) => sameMembers(chat, wanted));
    // Identical chats can belong to other requests: try the likeliest first (the first made after our attempt
    // began, then those just before it, within clock skew), and take only one no other request owns.
    for (const chat of orderCandidates(matches, unknownSince)) {
      const owner = await deps.store.claimChat(chat.id, request.id);
      if (owner === request.id) return { kind: 'found', chat };
      deps.log('debug', 'chat.skippedOwned', { ...fields, chatId: chat.id, owner });
    }
    for (const chat of candidates) seen.add(chat.id);
    if (listing.complete) return { kind: 'none' };
  }
  return { kind: 'incomplete', membersListed: listed.length };
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
