import { app } from '@azure/functions';
import { queueNames } from '../shared/platform/app-settings';
import { lazyModule } from '../shared/platform/handler-loader';

/**
 * Queue trigger on chat-requests-poison: the registration only; the handler
 * (functions/handlers/poison.ts) loads on the first poisoned message.
 */
const handlers = lazyModule(() => import('./handlers/poison'));

app.storageQueue('poison', {
  queueName: queueNames().poison,
  connection: 'AzureWebJobsStorage',
  handler: async (message, context) => (await handlers()).poison(message, context),
});
