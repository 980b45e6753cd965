import { app } from '@azure/functions';
import { pollSchedule } from '../shared/platform/app-settings';
import { lazyModule } from '../shared/platform/handler-loader';

/** Timer: the registration only; the handler (functions/handlers/poller.ts) loads on the first tick. */
const handlers = lazyModule(() => import('./handlers/poller'));

app.timer('poller', {
  schedule: pollSchedule(),
  handler: async (timer, context) => (await handlers()).poller(timer, context),
});
