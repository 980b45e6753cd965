import { app } from '@azure/functions';
import { lazyModule, queueNames } from '../shared/registration';

/**
 * Queue trigger on chat-requests: the registration only; the handler (functions/handlers/worker.ts)
 * loads on the first message.
 */
const handlers = lazyModule(() => import('./handlers/worker'));

app.storageQueue('worker', {
  queueName: queueNames(process.env).queue,
  connection: 'AzureWebJobsStorage',
  handler: async (message, context) => (await handlers()).worker(message, context),
});
