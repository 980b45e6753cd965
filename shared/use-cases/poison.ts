import type { Logger } from '../platform/log';
import { ChatRequest, isFinal, State } from '../core/model';
import { lostRace, RequestStore, transition } from '../core/request-store';
import { mayPrecedeItsRow, parseRequestMessage } from '../core/queue/message';
import { recordFinal } from '../platform/telemetry';

export interface PoisonDeps {
  store: RequestStore;
  log: Logger;
  now?: () => Date;
  onFinal?: (request: ChatRequest) => Promise<void>;
}

export type PoisonResult =
  'invalid-message' | 'unknown-request' | 'already-final' | 'left-to-poller' | 'stale-message' | 'failed' | 'lost-race';

/**
 * A poisoned message fails its request (unless it already finished, the poller owns it, or the
 * message is an old one while a newer attempt's message carries the request). The host moved it here
 * after maxDequeueCount failed runs of the worker: the function threw, which it does only when
 * storage is unavailable or the host failed it (timeout, crash).
 */
export async function failPoisoned(input: unknown, deps: PoisonDeps): Promise<PoisonResult> {
  const now = deps.now ?? (() => new Date());
  const parsed = parseRequestMessage(input);
  if (!parsed.ok) {
    deps.log('warn', 'poison.invalidMessage', { reason: parsed.reason });
    return 'invalid-message';
  }
  // Re-read after a lost race: the row may have moved on while we decided.
  for (let round = 0; round < 3; round += 1) {
    const stored = await deps.store.get(parsed.value.id);
    if (!stored) {
      // Sent by intake before its row, which may still come (storage failed it as it failed the worker):
      // the unsent marker makes the timer send a message if the row is there a minute from now.
      if (mayPrecedeItsRow(parsed.value, now())) {
        await deps.store.markUnsent([parsed.value.id], now());
        deps.log('warn', 'poison.rowNotYetWritten', { requestId: parsed.value.id, sentAt: parsed.value.sentAt });
      }
      return 'unknown-request';
    }
    if (isFinal(stored.value.state)) return 'already-final';
    if (stored.value.state === State.pending) return 'left-to-poller';
    if (isSuperseded(parsed.value.attempt, stored.value)) {
      deps.log('debug', 'poison.staleMessage', {
        requestId: stored.value.id,
        attempt: stored.value.attempts,
        messageAttempt: parsed.value.attempt,
      });
      return 'stale-message';
    }
    try {
      const failed = await transition(
        deps.store,
        stored,
        State.failed,
        {
          error: {
            code: 'PoisonMessage',
            message: `The worker failed on this request's queue message on every delivery, so the host moved it to the poison queue (storage unavailable or the function timed out; see the logs for requestId ${stored.value.id}). Retry it once the cause is fixed.`,
            retryable: true,
          },
          attemptStartedAt: undefined,
          nextAttemptAt: undefined,
          // A retry by ops must first look for a group chat this attempt may have made.
          outcomeUnknownSince:
            stored.value.outcomeUnknownSince ??
            (stored.value.state === State.creating ? stored.value.attemptStartedAt : undefined),
        },
        now(),
      );
      deps.log('warn', 'request.failed', {
        requestId: failed.value.id,
        attempt: failed.value.attempts,
        code: 'PoisonMessage',
      });
      recordFinal(failed.value);
      if (deps.onFinal) await deps.onFinal(failed.value);
      return 'failed';
    } catch (error) {
      if (!lostRace(error)) throw error;
    }
  }
  return 'lost-race';
}

/**
 * A queued request's live message carries its `attempts`; a creating request's carries `attempts - 1`
 * (or `attempts` when the timer handed it back). Anything older was replaced by a newer message.
 */
function isSuperseded(messageAttempt: number, request: ChatRequest): boolean {
  if (request.state === State.queued) return messageAttempt < request.attempts;
  if (request.state === State.creating) return messageAttempt < request.attempts - 1;
  return false;
}
