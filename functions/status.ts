import { app } from '@azure/functions';
import { lazyModule } from '../shared/platform/handler-loader';

/** Status, health and OpenAPI: the registrations only; the handlers (functions/handlers/) load on first use. */
const handlers = lazyModule(() => import('./handlers/status'));
const openApiHandler = lazyModule(() => import('./handlers/openapi'));

app.http('getRequest', {
  route: 'requests/{id}',
  methods: ['GET'],
  authLevel: 'function',
  handler: async (request, context) => (await handlers()).getRequest(request, context),
});
app.http('listRequests', {
  route: 'requests',
  methods: ['GET'],
  authLevel: 'function',
  handler: async (request, context) => (await handlers()).listRequests(request, context),
});
app.http('retryRequest', {
  route: 'requests/{id}/retry',
  methods: ['POST'],
  authLevel: 'function',
  handler: async (request, context) => (await handlers()).retryRequest(request, context),
});
app.http('health', {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async (request, context) => (await handlers()).health(request, context),
});
app.http('openApi', {
  route: 'openapi.json',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async () => (await openApiHandler()).openApi(),
});
