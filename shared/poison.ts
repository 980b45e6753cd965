import type { Logger } from './log';
import { ChatRequest, isFinal, State } from './model';
import { lostRace, RequestStore, transition } from './request-store';
import { parseRequestMessage } from './request-queue';

export interface PoisonDeps {
  store: RequestStore;
  log: Logger;
  now?: () => Date;
  onFinal?: (request: ChatRequest) => Promise<void>;
}

export type PoisonResult =
  'invalid-message' | 'unknown-request' | 'already-final' | 'left-to-poller' | 'failed' | 'lost-race';

/** A poisoned message fails its request (unless it already finished, or the poller owns it). */
export async function failPoisoned(input: unknown, dequeueCount: number, deps: PoisonDeps): Promise<PoisonResult> {
  const now = deps.now ?? (() => new Date());
  const parsed = parseRequestMessage(input);
  if (!parsed.ok) {
    deps.log('warn', 'poison.invalidMessage', { reason: parsed.reason });
    return 'invalid-message';
  }
  // Re-read after a lost race: the row may have moved on while we decided.
  for (let round = 0; round < 3; round += 1) {
    const stored = await deps.store.get(parsed.value.id);
    if (!stored) return 'unknown-request';
    if (isFinal(stored.value.state)) return 'already-final';
    if (stored.value.state === State.pending) return 'left-to-poller';
    try {
      const failed = await transition(
        deps.store,
        stored,
        State.failed,
        {
          error: {
            code: 'PoisonMessage',
            message: `The worker failed on this request ${dequeueCount || 'several'} times in a row (storage or host errors; see the logs for requestId ${stored.value.id}). Retry it once the cause is fixed.`,
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
      if (deps.onFinal) await deps.onFinal(failed.value);
      return 'failed';
    } catch (error) {
      if (!lostRace(error)) throw error;
    }
  }
  return 'lost-race';
}
