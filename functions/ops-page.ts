import { app } from '@azure/functions';
import { lazyModule } from '../shared/platform/handler-loader';

/**
 * The ops page (GET /api/ui and its two assets) and the summary it reads (GET /api/ops/summary): the
 * registrations only; the handlers (functions/handlers/ops-page.ts) load on first use.
 *
 * The page and its assets are anonymous at the function level because they hold no data: everything the
 * page shows comes from the function-key API, with the key the operator types in. In Azure, App Service
 * authentication (Entra ID) stands in front of /api/ui (infra/app/ops-auth.bicep, docs/deploy.md).
 */
const handlers = lazyModule(() => import('./handlers/ops-page'));

app.http('opsPage', {
  route: 'ui',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async (request) => (await handlers()).opsPage(request),
});
app.http('opsPageAsset', {
  route: 'ui/{file}',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: async (request) => (await handlers()).opsPageAsset(request),
});
app.http('opsSummary', {
  route: 'ops/summary',
  methods: ['GET'],
  authLevel: 'function',
  handler: async (request, context) => (await handlers()).opsSummary(request, context),
});
