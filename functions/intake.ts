import { app } from '@azure/functions';
import { lazyModule } from '../shared/platform/handler-loader';

/** Intake: the registrations only; the handlers (functions/handlers/intake.ts) load on the first request. */
const handlers = lazyModule(() => import('./handlers/intake'));

app.http('intake', {
  route: 'requests',
  methods: ['POST'],
  authLevel: 'function',
  handler: async (request, context) => (await handlers()).intake(request, context),
});
app.http('intakeBatch', {
  route: 'requests/batch',
  methods: ['POST'],
  authLevel: 'function',
  handler: async (request, context) => (await handlers()).intakeBatch(request, context),
});
