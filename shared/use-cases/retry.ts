import type { Logger } from '../platform/log';
import { ChatRequest, State } from '../core/model';
import type { RequestQueue } from '../core/queue/port';
import { lostRace, RequestStore, transitionAndSend } from '../core/request-store';

/**
 * An operator's retry of a failed request: failed → queued, and its message sent. Only a failed request can
 * be retried; a retry racing the worker or another retry loses cleanly (the state it lost to is answered).
 */

export interface RetryDeps {
  store: RequestStore;
  queue: RequestQueue;
  log: Logger;
  now?: () => Date;
}

export type RetryResult =
  | { kind: 'retried'; request: ChatRequest }
  | { kind: 'not-found' }
  /** The request is not failed (or stopped being failed while this retry ran): its state then. */
  | { kind: 'not-retryable'; state: string };

export async function retryFailedRequest(id: string, deps: RetryDeps): Promise<RetryResult> {
  const stored = await deps.store.get(id);
  if (!stored) return { kind: 'not-found' };
  if (stored.value.state !== State.failed) return { kind: 'not-retryable', state: stored.value.state };
  const now = (deps.now ?? (() => new Date()))();
  try {
    // Sent at once; a failed send fails the call (503), and the marker makes the timer send it anyway.
    const queued = await transitionAndSend(
      deps,
      stored,
      State.queued,
      {
        transientFailures: 0,
        graceStartedAt: undefined,
        nextAttemptAt: undefined,
        // The failure stays visible until the next attempt's outcome replaces it.
        error: stored.value.error,
      },
      now,
    );
    deps.log('info', 'request.retried', { requestId: id, attempt: queued.value.attempts });
    return { kind: 'retried', request: queued.value };
  } catch (error) {
    if (lostRace(error)) return { kind: 'not-retryable', state: error.current?.value.state ?? 'unknown' };
    throw error;
  }
}
