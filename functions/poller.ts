import { app } from '@azure/functions';
import { lazyModule, pollSchedule } from '../shared/registration';

/** Timer: the registration only; the handler (functions/handlers/poller.ts) loads on the first tick. */
const handlers = lazyModule(() => import('./handlers/poller'));

app.timer('poller', {
  schedule: pollSchedule(process.env),
  handler: async (timer, context) => (await handlers()).poller(timer, context),
});
