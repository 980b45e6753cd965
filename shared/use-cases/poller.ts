import pLimit from 'p-limit';
import type { GraphChats } from '../graph/graph-client';
import {
  chatIdFromLocation,
  decidePollOutcome,
  graphError,
  OPERATION_MIN_CHECK_MS,
  parseRetryAfter,
  PollOutcome,
} from '../core/graph-retry-policy';
import type { Logger } from '../platform/log';
import { ChatRequest, State } from '../core/model';
import type { RequestQueue } from '../core/queue/port';
import type { GraphRateGate } from '../core/rate/gate';
import { lostRace, RequestStore, sendMessage, Stored, transition } from '../core/request-store';
import { ATTEMPT_LEASE_MS } from './worker';
import { recordFinal } from '../platform/telemetry';

/**
 * One timer tick. It reads only the work table's partitions of work that is due — pending operations whose
 * next check has come, unsent queue messages, attempts whose worker died — never the history, so
 * its cost does not grow with the number of finished requests. Every change is a conditional
 * write: two overlapping ticks update each request once.
 */

const MAX_PER_TICK = 500;
/** How long a check waits for a send slot before leaving it to the next tick. */
const POLL_ADMISSION_WAIT_MS = 1_000;
const UNSENT_AFTER_MS = 60_000;
/**
 * Past OPERATION_DEADLINE_MINUTES a request is failed only when Graph says so (the operation is still
 * running and no chat exists). While Graph cannot be asked, it stays pending this much longer, checked
 * every UNANSWERED_CHECK_MS, so an outage at the deadline cannot fail a request whose chat exists.
 */
export const UNANSWERED_GRACE_MS = 24 * 60 * 60_000;
const UNANSWERED_CHECK_MS = 30_000;
/** A failed read of the chat itself (GET /chats/{id}, not an operation check) is tried again this soon. */
const CHAT_READ_RETRY_MS = 3_000;
/** A `creating` row this old has lost its worker (its message is gone or poisoned); shared/use-cases/waiting.ts says so. */
export const STALE_CREATING_MS = ATTEMPT_LEASE_MS + 5 * 60_000;

export interface PollerDeps {
  store: RequestStore;
  queue: RequestQueue;
  graph: GraphChats;
  gate?: GraphRateGate;
  deadlineMinutes: number;
  /** OPERATION_CHECK_MIN_SECONDS in ms: least time between two checks of one operation (default 30 s). */
  checkMinMs?: number;
  log: Logger;
  now?: () => Date;
  random?: () => number;
  concurrency?: number;
  onFinal?: (request: ChatRequest) => Promise<void>;
}

export interface TickReport {
  indexRowsRead: number;
  checked: number;
  succeeded: number;
  failed: number;
  waiting: number;
  resent: number;
  recovered: number;
}

export async function runPollerTick(deps: PollerDeps): Promise<TickReport> {
  const now = deps.now ?? (() => new Date());
  const report: TickReport = {
    indexRowsRead: 0,
    checked: 0,
    succeeded: 0,
    failed: 0,
    waiting: 0,
    resent: 0,
    recovered: 0,
  };
  const limit = pLimit(deps.concurrency ?? 8);
  const reads: ReadPause = { until: 0 };

  const due = await deps.store.listDue(State.pending, now(), MAX_PER_TICK, { withRows: true });
  report.indexRowsRead += due.length;
  await Promise.all(
    due.map((entry) =>
      limit(async () => {
        const stored = entry.stored ?? (await deps.store.get(entry.id));
        // Moved on since the query (another timer, an operator): nothing to check.
        if (!stored || stored.value.state !== State.pending) return;
        const result = await checkOperation(stored, deps, now, reads);
        if (result === 'not-due') return;
        if (result) report[result] += 1;
        report.checked += 1;
      }),
    ),
  );

  const unsent = await sendUnsent(deps, now);
  report.indexRowsRead += unsent.read;
  report.resent += unsent.sent;
  const stale = await recoverStaleAttempts(deps, now);
  report.indexRowsRead += stale.read;
  report.recovered += stale.recovered;
  report.indexRowsRead += await deps.store.finishStrandedMoves(now(), MAX_PER_TICK);
  return report;
}

/**
 * Graph throttles reads ("Other GET API calls for Microsoft Teams", 30 rps per app per tenant) apart from
 * creates ("Other API calls"). A throttled check therefore pauses the rest of this tick's checks until its
 * Retry-After, but neither cuts the fleet's create rate nor pauses the workers: their budget was not spent.
 */
interface ReadPause {
  until: number;
}

function pauseReads(reads: ReadPause, now: () => Date, forMs: number): void {
  reads.until = Math.max(reads.until, now().getTime() + forMs);
}

async function checkOperation(
  stored: Stored<ChatRequest>,
  deps: PollerDeps,
  now: () => Date,
  reads: ReadPause,
): Promise<'succeeded' | 'failed' | 'waiting' | 'not-due' | undefined> {
  const request = stored.value;
  const operation = request.operation;
  if (!operation) {
    await settle(
      stored,
      State.failed,
      { error: { code: 'NoOperation', message: 'Pending without an operation to follow', retryable: false } },
      deps,
      now,
    );
    return 'failed';
  }
  if (operation.nextCheckAt && Date.parse(operation.nextCheckAt) > now().getTime()) return 'not-due';
  // Reads were throttled earlier in this tick: leave the check (still due) to a later tick.
  if (reads.until > now().getTime()) return 'not-due';
  // Polls share the app's send rate and pause with the worker: wait briefly for a slot, else next tick.
  const admission = deps.gate ? await deps.gate.acquire(POLL_ADMISSION_WAIT_MS) : { ok: true as const };
  if (!admission.ok) return 'not-due';

  const answer = await deps.graph.getOperation(operation.location);
  const outcome: PollOutcome = decidePollOutcome(answer, {
    now: now(),
    startedAt: operation.startedAt ?? request.updatedAt,
    checks: operation.checks,
    deadlineMinutes: deps.deadlineMinutes,
    random: deps.random ?? Math.random,
    chatIdFromLocation: chatIdFromLocation(operation.location),
    checkMinMs: deps.checkMinMs ?? OPERATION_MIN_CHECK_MS,
  });
  deps.log('debug', 'graph.pollOperation', {
    requestId: request.id,
    attempt: request.attempts,
    graphRequestId: answer.kind === 'response' ? answer.headers.requestId : undefined,
    status: answer.kind === 'response' ? answer.status : answer.kind,
    outcome: outcome.kind,
  });
  if (outcome.kind === 'wait' && outcome.throttledForMs !== undefined) pauseReads(reads, now, outcome.throttledForMs);

  const pastGrace = (): boolean =>
    now().getTime() - Date.parse(operation.startedAt ?? request.updatedAt) >
    deps.deadlineMinutes * 60_000 + UNANSWERED_GRACE_MS;
  // Still pending: only the check is recorded (beside the row, see RequestStore.recordCheck).
  const wait = async (status: string, nextCheckInMs: number, error: ChatRequest['error']): Promise<'waiting'> => {
    const nextCheckAt = new Date(now().getTime() + nextCheckInMs).toISOString();
    await deps.store.recordCheck(stored, { status, checks: operation.checks + 1, nextCheckAt, error });
    return 'waiting';
  };

  try {
    switch (outcome.kind) {
      case 'wait':
        return await wait(
          outcome.status === 'unknown' ? operation.status : outcome.status,
          outcome.nextCheckInMs,
          outcome.error,
        );
      case 'succeeded': {
        // The chat's webUrl comes from GET /chats/{id}; if that read fails for now, the next tick reads it.
        // The worker claimed the chat named by the Location; an operation may name its chat only now.
        if (request.chatType === 'group') await deps.store.claimChat(outcome.chatId, request.id).catch(() => undefined);
        const chat = await findChat(outcome.chatId, deps, now, reads);
        if (chat.kind === 'unavailable' && !pastGrace())
          return await wait(operation.status, chat.retryInMs, chat.error);
        await settle(
          stored,
          State.succeeded,
          {
            chat: chat.kind === 'found' ? chat.chat : { id: outcome.chatId },
            operation: { ...operation, status: 'succeeded', checks: operation.checks + 1 },
            error: undefined,
          },
          deps,
          now,
        );
        return 'succeeded';
      }
      case 'vanished': {
        // The operation is gone: the chat it made (if any) decides; a failed read decides nothing.
        const chat = outcome.chatId ? await findChat(outcome.chatId, deps, now, reads) : ({ kind: 'missing' } as const);
        if (chat.kind === 'unavailable' && !pastGrace())
          return await wait(operation.status, Math.max(chat.retryInMs, UNANSWERED_CHECK_MS), chat.error);
        if (chat.kind === 'found') {
          await settle(
            stored,
            State.succeeded,
            {
              chat: chat.chat,
              operation: { ...operation, status: 'vanished', checks: operation.checks + 1 },
              error: undefined,
            },
            deps,
            now,
          );
          return 'succeeded';
        }
        await settle(
          stored,
          State.failed,
          {
            operation: { ...operation, status: 'vanished', checks: operation.checks + 1 },
            error: {
              code: 'OperationNotFound',
              message:
                chat.kind === 'missing'
                  ? 'Graph no longer knows the chat operation and the chat does not exist'
                  : `Graph no longer knows the chat operation, and the chat could not be read for ${deps.deadlineMinutes} minutes (OPERATION_DEADLINE_MINUTES) plus a day`,
              httpStatus: 404,
              retryable: false,
            },
          },
          deps,
          now,
        );
        return 'failed';
      }
      case 'unanswered': {
        // Past the deadline and Graph cannot tell how the operation went: the chat, if it exists, decides.
        const chat = outcome.chatId ? await findChat(outcome.chatId, deps, now, reads) : undefined;
        if (chat?.kind === 'found') {
          await settle(
            stored,
            State.succeeded,
            { chat: chat.chat, operation: { ...operation, checks: operation.checks + 1 }, error: undefined },
            deps,
            now,
          );
          return 'succeeded';
        }
        if (chat?.kind !== 'missing' && !pastGrace()) {
          const retryInMs = chat?.kind === 'unavailable' ? chat.retryInMs : 0;
          return await wait(
            operation.status,
            Math.max(retryInMs, UNANSWERED_CHECK_MS),
            chat?.kind === 'unavailable' ? chat.error : outcome.error,
          );
        }
        await settle(
          stored,
          State.failed,
          {
            operation: { ...operation, checks: operation.checks + 1 },
            error: {
              code: 'OperationTimeout',
              message:
                chat?.kind === 'missing'
                  ? `The chat operation did not finish within ${deps.deadlineMinutes} minutes (OPERATION_DEADLINE_MINUTES) and its chat does not exist`
                  : `The chat operation did not finish within ${deps.deadlineMinutes} minutes (OPERATION_DEADLINE_MINUTES), and for a day after it Graph could not say how it went (last: ${outcome.error.message})`,
              retryable: false,
            },
          },
          deps,
          now,
        );
        return 'failed';
      }
      case 'failed':
        await settle(
          stored,
          State.failed,
          { operation: { ...operation, status: 'failed', checks: operation.checks + 1 }, error: outcome.error },
          deps,
          now,
        );
        return 'failed';
    }
  } catch (error) {
    if (lostRace(error)) {
      deps.log('debug', 'poll.lostRace', { requestId: request.id });
      return undefined;
    }
    throw error;
  }
}

type ChatRead =
  | { kind: 'found'; chat: NonNullable<ChatRequest['chat']> }
  | { kind: 'missing' }
  | { kind: 'unavailable'; retryInMs: number; error: ChatRequest['error'] };

async function findChat(chatId: string, deps: PollerDeps, now: () => Date, reads: ReadPause): Promise<ChatRead> {
  const answer = await deps.graph.getChat(chatId);
  if (answer.kind === 'response' && answer.status === 200) {
    const chat = (answer.body ?? {}) as Record<string, unknown>;
    return {
      kind: 'found',
      chat: {
        id: typeof chat.id === 'string' ? chat.id : chatId,
        webUrl: typeof chat.webUrl === 'string' ? chat.webUrl : undefined,
        createdDateTime: typeof chat.createdDateTime === 'string' ? chat.createdDateTime : undefined,
        tenantId: typeof chat.tenantId === 'string' ? chat.tenantId : undefined,
      },
    };
  }
  if (answer.kind === 'response' && answer.status === 404) return { kind: 'missing' };
  const retryAfter = answer.kind === 'response' ? parseRetryAfter(answer.headers.retryAfter, now()) : undefined;
  const retryInMs = retryAfter ?? CHAT_READ_RETRY_MS;
  if (answer.kind === 'response' && answer.status === 429) pauseReads(reads, now, retryInMs);
  return { kind: 'unavailable', retryInMs, error: { ...graphError(answer, 'ChatReadFailed'), retryable: true } };
}

async function settle(
  stored: Stored<ChatRequest>,
  to: typeof State.succeeded | typeof State.failed,
  changes: Parameters<typeof transition>[3],
  deps: PollerDeps,
  now: () => Date,
): Promise<void> {
  const done = await transition(deps.store, stored, to, changes, now());
  deps.log(to === State.failed ? 'warn' : 'info', `request.${to}`, {
    requestId: done.value.id,
    attempt: done.value.attempts,
    code: done.value.error?.code,
  });
  recordFinal(done.value);
  if (deps.onFinal) await deps.onFinal(done.value);
}

/** Rows whose queue message was never confirmed sent (intake lost storage or crashed midway). */
async function sendUnsent(deps: PollerDeps, now: () => Date): Promise<{ read: number; sent: number }> {
  const ids = await deps.store.listUnsent(new Date(now().getTime() - UNSENT_AFTER_MS), MAX_PER_TICK);
  let sent = 0;
  for (const id of ids) {
    const stored = await deps.store.get(id);
    if (stored?.value.state === State.queued) {
      const request = stored.value;
      const dueIn = Math.max(0, Date.parse(request.nextAttemptAt ?? request.createdAt) - now().getTime());
      await sendMessage(deps, request, { delaySeconds: dueIn / 1000, clearMarker: 'await' });
      deps.log('warn', 'request.messageResent', { requestId: id, attempt: request.attempts });
      sent += 1;
      continue;
    }
    // A marker without a row is an intake that never finished; nothing was promised to anyone.
    await deps.store.clearUnsent(id);
  }
  return { read: ids.length, sent };
}

const recentlyRecovered = new Map<string, number>();

/** `creating` rows whose worker died and whose message is gone: hand them back to the queue. */
async function recoverStaleAttempts(deps: PollerDeps, now: () => Date): Promise<{ read: number; recovered: number }> {
  const at = now().getTime();
  const stale = await deps.store.listDue(State.creating, new Date(at - STALE_CREATING_MS), MAX_PER_TICK);
  let recovered = 0;
  for (const [id, when] of recentlyRecovered) if (at - when > STALE_CREATING_MS) recentlyRecovered.delete(id);
  for (const entry of stale) {
    if (recentlyRecovered.has(entry.id)) continue;
    const stored = await deps.store.get(entry.id);
    if (stored?.value.state !== State.creating) continue;
    await deps.queue.send({ id: entry.id, attempt: stored.value.attempts });
    recentlyRecovered.set(entry.id, at);
    deps.log('warn', 'attempt.recovered', { requestId: entry.id, attempt: stored.value.attempts });
    recovered += 1;
  }
  return { read: stale.length, recovered };
}
