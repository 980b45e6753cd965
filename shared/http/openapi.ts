import { OpenAPIRegistry, OpenApiGeneratorV31, ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import {
  BatchRequestSchema,
  BatchResultSchema,
  HealthSchema,
  ListQuerySchema,
  ProblemSchema,
  ProvisioningRequestSchema,
  RequestListSchema,
  RequestResourceSchema,
} from './api-schemas';
import { OpsSummarySchema } from './ops-schemas';
import { PROBLEM_CONTENT_TYPE } from './problem';

/**
 * The OpenAPI 3.1 document of the HTTP API (docs/api.md), generated from the zod schemas that
 * validate requests, so the description cannot drift from the behaviour. Built once per process.
 */

/** The compact form as docs/api.md shows it, with real-looking ids. */
export const COMPACT_EXAMPLE = {
  chatType: 'group',
  topic: 'Welcome Ana',
  externalId: 'hr-4711',
  members: [
    'ana@contoso.com',
    { user: 'mgr@contoso.com', role: 'owner' },
    { user: 'x@fabrikam.com', role: 'guest' },
    { user: '82af01c5-f7cc-4a2e-a728-3a5df21afd9d', tenantId: '4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1' },
  ],
  apps: [{ teamsAppId: '05F59CEC-A742-4A50-A62E-202A57E478A4', rscPermissions: ['ChatMessage.Read.Chat'] }],
} as const;

/** Example 4 of the Graph "Create chat" page: a one-on-one chat with an app and RSC permissions. */
export const GRAPH_EXAMPLE = {
  chatType: 'oneOnOne',
  members: [
    {
      '@odata.type': '#microsoft.graph.aadUserConversationMember',
      roles: ['owner'],
      'user@odata.bind': "https://graph.microsoft.com/v1.0/users('4b822dfc-2864-44e6-aa1e-7e0e8552168f')",
    },
    {
      '@odata.type': '#microsoft.graph.aadUserConversationMember',
      roles: ['owner'],
      'user@odata.bind': "https://graph.microsoft.com/v1.0/users('6d1e1501-7a3d-45b7-b71b-68d372e5ce14')",
    },
  ],
  installedApps: [
    {
      'teamsApp@odata.bind':
        'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/8e55a7b1-6766-4f0a-8610-ecacfe3d569a',
      consentedPermissionSet: {
        resourceSpecificPermissions: [
          { permissionValue: 'ChatMessage.Read.Chat', permissionType: 'application' },
          { permissionValue: 'OnlineMeeting.ReadBasic.Chat', permissionType: 'application' },
        ],
      },
    },
  ],
} as const;

const FUNCTION_KEY_HEADER = 'functionKeyHeader';
const FUNCTION_KEY_QUERY = 'functionKeyQuery';

function problemResponse(description: string): ResponseConfig {
  return { description, content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } } };
}

const location = z.string().openapi({ description: 'The request resource.', example: '/api/requests/{id}' });
const retryAfter = z.string().openapi({ description: 'Seconds to wait before trying again.', example: '5' });

const IdParams = z.object({
  id: z.string().openapi({ param: { description: 'The request id returned by POST /api/requests.' } }),
});

const IntakeHeaders = z.object({
  'Idempotency-Key': z
    .string()
    .min(1)
    .max(256)
    .optional()
    .openapi({ description: 'Same key + same payload → 200 replay; same key + different payload → 422.' }),
  'webhook-id': z
    .string()
    .optional()
    .openapi({ description: 'Standard Webhooks message id; also an idempotency key. Required when signing is on.' }),
  'webhook-timestamp': z
    .string()
    .optional()
    .openapi({ description: 'Unix seconds; must be within 5 minutes. Required when signing is on.' }),
  'webhook-signature': z.string().optional().openapi({
    description: 'v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">. Required when WEBHOOK_SIGNING_SECRET is set.',
  }),
});

const common = {
  401: problemResponse('No or wrong function key, or (POST) a missing or invalid webhook signature.'),
  503: {
    ...problemResponse('Storage unavailable or the service misconfigured; retry later.'),
    headers: z.object({ 'Retry-After': retryAfter }),
  },
};
const bodyProblems = {
  400: problemResponse('The body is not valid: `errors` lists every problem with its path.'),
  413: problemResponse(
    'The body is over the size limit (1 MiB; a batch 16 MiB), or the request is too large to store in one table row.',
  ),
  415: problemResponse('Content-Type is not application/json (UTF-8).'),
};

function buildRegistry(): OpenAPIRegistry {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', FUNCTION_KEY_HEADER, {
    type: 'apiKey',
    in: 'header',
    name: 'x-functions-key',
    description: 'An Azure Functions function or host key.',
  });
  registry.registerComponent('securitySchemes', FUNCTION_KEY_QUERY, {
    type: 'apiKey',
    in: 'query',
    name: 'code',
    description: 'The same key as a query parameter.',
  });

  registry.registerPath({
    method: 'post',
    path: '/api/requests',
    operationId: 'createRequest',
    summary: 'Ask for a chat to be created',
    description:
      'Accepts the Graph create-chat body verbatim or the compact form. Idempotent by Idempotency-Key, externalId or webhook-id, in that order.',
    request: {
      headers: IntakeHeaders,
      body: {
        required: true,
        content: {
          'application/json': {
            schema: ProvisioningRequestSchema,
            examples: {
              compact: { summary: 'Compact form', value: COMPACT_EXAMPLE },
              graph: { summary: 'Graph create-chat body (Graph docs, example 4)', value: GRAPH_EXAMPLE },
            },
          },
        },
      },
    },
    responses: {
      202: {
        description: 'Accepted: the request is queued.',
        headers: z.object({ Location: location }),
        content: { 'application/json': { schema: RequestResourceSchema } },
      },
      200: {
        description: 'Replay: the same key was used with the same payload; this is the existing request.',
        headers: z.object({
          Location: location,
          'Idempotent-Replayed': z.literal('true').openapi({ description: 'Marks a replayed answer.' }),
        }),
        content: { 'application/json': { schema: RequestResourceSchema } },
      },
      ...bodyProblems,
      401: common[401],
      422: problemResponse('The idempotency key was used before with a different payload.'),
      503: common[503],
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/api/requests/batch',
    operationId: 'createRequests',
    summary: 'Ask for many chats at once',
    description: 'Valid items are accepted even when others are rejected; each item is idempotent by its externalId.',
    request: {
      headers: IntakeHeaders.extend({
        'Idempotency-Key': IntakeHeaders.shape['Idempotency-Key'].openapi({
          description:
            'Applies per position: item i is keyed `<key>#<i>` (and webhook-id likewise), so resending the same batch replays every item; an item whose payload changed is rejected.',
        }),
      }),
      body: { required: true, content: { 'application/json': { schema: BatchRequestSchema } } },
    },
    responses: {
      200: {
        description: 'One result per item, in order.',
        content: { 'application/json': { schema: BatchResultSchema } },
      },
      ...bodyProblems,
      401: common[401],
      503: common[503],
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/api/requests',
    operationId: 'listRequests',
    summary: 'List requests',
    request: { query: ListQuerySchema },
    responses: {
      200: { description: 'A page of requests.', content: { 'application/json': { schema: RequestListSchema } } },
      400: problemResponse('A query parameter is not valid.'),
      401: common[401],
      503: common[503],
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/api/requests/{id}',
    operationId: 'getRequest',
    summary: 'Get a request',
    request: { params: IdParams },
    responses: {
      200: { description: 'The request.', content: { 'application/json': { schema: RequestResourceSchema } } },
      401: common[401],
      404: problemResponse('No request has this id.'),
      503: common[503],
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/api/requests/{id}/retry',
    operationId: 'retryRequest',
    summary: 'Retry a failed request',
    description:
      'An operator call, with a function key; like every POST it also needs a Standard Webhooks signature (of the empty body) while WEBHOOK_SIGNING_SECRET is set. The CLI signs it when CHAT_PROVISIONER_SIGNING_SECRET holds that secret.',
    request: {
      params: IdParams,
      headers: IntakeHeaders.pick({ 'webhook-id': true, 'webhook-timestamp': true, 'webhook-signature': true }),
    },
    responses: {
      202: {
        description: 'Queued again.',
        headers: z.object({ Location: location }),
        content: { 'application/json': { schema: RequestResourceSchema } },
      },
      401: common[401],
      404: problemResponse('No request has this id.'),
      409: problemResponse('Only a failed request can be retried; the problem names the current state.'),
      503: common[503],
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/api/ops/summary',
    operationId: 'opsSummary',
    summary: 'Counts per state, queue depths and the Graph rate limiter (read-only; the ops page reads it)',
    description:
      'Counts are the state indexes, counted up to countLimit (`capped: true` beyond it); approximate while requests move. Reads nothing but storage: no Graph call.',
    responses: {
      200: { description: 'The summary.', content: { 'application/json': { schema: OpsSummarySchema } } },
      401: common[401],
      503: common[503],
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/api/health',
    operationId: 'health',
    summary: 'Storage and Graph configuration status',
    security: [],
    responses: {
      200: { description: 'Healthy.', content: { 'application/json': { schema: HealthSchema } } },
      503: { description: 'Unhealthy.', content: { 'application/json': { schema: HealthSchema } } },
      '4XX': PLATFORM_REFUSAL,
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/api/openapi.json',
    operationId: 'openApi',
    summary: 'This document',
    security: [],
    responses: {
      200: {
        description: 'The OpenAPI 3.1 document.',
        content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } },
      },
      '4XX': PLATFORM_REFUSAL,
    },
  });
  return registry;
}

/** The anonymous routes never answer 4xx themselves; the platform in front of them can. */
const PLATFORM_REFUSAL = {
  description:
    'Refused before the function runs: by the Functions platform (for example 429 when the app is throttled, 404 while it is stopped or the function is disabled). No body is promised.',
};

let cached: ReturnType<OpenApiGeneratorV31['generateDocument']> | undefined;

/** The document, generated on first use and then reused (it depends only on the code). */
export function buildOpenApiDocument(): ReturnType<OpenApiGeneratorV31['generateDocument']> {
  cached ??= new OpenApiGeneratorV31(buildRegistry().definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'chat-provisioner',
      version: '0.1.0',
      description:
        'Creates Microsoft Teams chats through Microsoft Graph for other systems (HR webhooks, bulk imports).',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [
      {
        url: 'https://{app}.azurewebsites.net',
        description:
          'The function app in Azure (azd up prints its name). Locally: http://localhost:7071, or local.settings.json Host.LocalHttpPort.',
        variables: { app: { default: 'chat-provisioner', description: 'The function app name.' } },
      },
    ],
    security: [{ [FUNCTION_KEY_HEADER]: [] }, { [FUNCTION_KEY_QUERY]: [] }],
  });
  return cached;
}
