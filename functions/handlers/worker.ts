import type { InvocationContext } from '@azure/functions';
import { contextLogger } from '../../shared/http/responses';
import { deliverOnFinal } from '../../shared/use-cases/callbacks';
import { services } from '../../shared/platform/composition-root';
import { parseRequestMessage } from '../../shared/core/queue/message';
import { processRequestMessage } from '../../shared/use-cases/worker';

/**
 * Queue trigger on chat-requests: one Graph create-chat attempt per message. Returns normally for
 * every Graph answer (retries are re-enqueued messages); throws only when storage is unavailable,
 * so the host redelivers the message and, after maxDequeueCount, moves it to the poison queue.
 */
export async function worker(message: unknown, context: InvocationContext): Promise<void> {
  const svc = services();
  await svc.ready();
  const log = contextLogger(context);
  const result = await processRequestMessage(message, {
    store: svc.store,
    queue: svc.queue,
    graph: svc.graph,
    gate: svc.gate,
    graceMinutes: svc.config.newUserGraceMinutes,
    operationCheckMinMs: svc.config.operationCheckMinSeconds * 1000,
    log,
    onFinal: deliverOnFinal(svc, log),
  });
  const parsed = parseRequestMessage(message);
  log('debug', 'worker.done', {
    ...(parsed.ok ? { requestId: parsed.value.id, attempt: parsed.value.attempt } : {}),
    result,
    dequeueCount: Number(context.triggerMetadata?.dequeueCount ?? 0),
  });
}
