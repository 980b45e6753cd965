import type { InvocationContext } from '@azure/functions';
import { deliverOnFinal } from '../../shared/use-cases/callbacks';
import { contextLogger } from '../../shared/http/responses';
import { failPoisoned } from '../../shared/use-cases/poison';
import { services } from '../../shared/platform/composition-root';

/**
 * Queue trigger on chat-requests-poison: a message the worker failed on maxDequeueCount times marks
 * its request failed with the reason, so no request stays in progress with its message gone.
 */
export async function poison(message: unknown, context: InvocationContext): Promise<void> {
  const svc = services();
  await svc.ready();
  const log = contextLogger(context);
  const result = await failPoisoned(message, {
    store: svc.store,
    log,
    onFinal: deliverOnFinal(svc, log),
  });
  log('warn', 'poison.done', { result });
}
