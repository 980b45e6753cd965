import { app } from '@azure/functions';
import { queueNames } from '../shared/platform/app-settings';
import { lazyModule } from '../shared/platform/handler-loader';

/**
 * Queue trigger on chat-requests: the registration only; the handler (functions/handlers/worker.ts)
 * loads on the first message.
 */
const handlers = lazyModule(() => import('./handlers/worker'));

app.storageQueue('worker', {
  queueName: queueNames().queue,
  connection: 'AzureWebJobsStorage',
  handler: async (message, context) => (await handlers()).worker(message, context),
});
