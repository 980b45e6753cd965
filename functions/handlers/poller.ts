import type { InvocationContext, Timer } from '@azure/functions';
import { deliverDueCallbacks, deliverOnFinal } from '../../shared/callbacks';
import { contextLogger } from '../../shared/http-answers';
import { runPollerTick } from '../../shared/poller';
import { services } from '../../shared/services';

/**
 * Timer: follows pending Graph operations to a final state, sends queue messages that intake could
 * not confirm, hands dead attempts back to the queue, and retries due callbacks. Reads only due work.
 */
export async function poller(timer: Timer, context: InvocationContext): Promise<void> {
  const svc = services();
  await svc.ready();
  const log = contextLogger(context);
  const report = await runPollerTick({
    store: svc.store,
    queue: svc.queue,
    graph: svc.graph,
    gate: svc.gate,
    deadlineMinutes: svc.config.operationDeadlineMinutes,
    log,
    onFinal: deliverOnFinal(svc, log),
  });
  const callbacks = await deliverDueCallbacks({ store: svc.store, config: svc.config.callback, log });
  log('info', 'poller.tick', { ...report, callbacks, isPastDue: timer.isPastDue });
}
