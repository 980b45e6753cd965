import type { InvocationContext, Timer } from '@azure/functions';
import { deliverDueCallbacks, deliverOnFinal } from '../../shared/use-cases/callbacks';
import { contextLogger } from '../../shared/http/responses';
import { runPollerTick } from '../../shared/use-cases/poller';
import type { Logger } from '../../shared/platform/log';
import { services, type Services } from '../../shared/platform/composition-root';

/**
 * Timer: follows pending Graph operations to a final state, sends queue messages that intake could
 * not confirm, hands dead attempts back to the queue, and retries due callbacks. Reads only due work.
 */
export async function poller(timer: Timer, context: InvocationContext): Promise<void> {
  const log = contextLogger(context);
  const { report, callbacks } = await runTimerWork(services(), log);
  log('debug', 'poller.tick', { ...report, callbacks, isPastDue: timer.isPastDue });
}

/** One tick of the timer's work on these services (the chaos suite runs two at once). */
export async function runTimerWork(svc: Services, log: Logger) {
  await svc.ready();
  const report = await runPollerTick({
    store: svc.store,
    queue: svc.queue,
    graph: svc.graph,
    gate: svc.gate,
    deadlineMinutes: svc.config.operationDeadlineMinutes,
    checkMinMs: svc.config.operationCheckMinSeconds * 1000,
    log,
    onFinal: deliverOnFinal(svc, log),
  });
  const callbacks = await deliverDueCallbacks({ store: svc.store, config: svc.config.callback, log });
  return { report, callbacks };
}
