import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import type { HealthReport } from '../use-cases/health';
import { ChatRequestResource, State, WAITING_REASONS } from '../core/model';
import { parseIsoDateTime } from '../core/request/date-time';
import type { FieldError } from '../core/request/fields';
import { parseProvisioningRequest } from '../core/request/parse';
import type { ParseOptions, ParseResult } from '../core/request/parsed';
import {
  ChatTypeSchema,
  ExternalIdSchema,
  PermissionTypeSchema,
  ProvisioningRequestSchema,
  RoleSchema,
} from '../core/request/schemas';

/**
 * The HTTP API's schemas, registered for OpenAPI. The request-body schemas are the ones parsing
 * uses (request/schemas.ts); everything here is the envelope around them and the answers.
 */

extendZodWithOpenApi(z);

export { ProvisioningRequestSchema };

export const MAX_BATCH_ITEMS = 1000;
export const DEFAULT_LIST_TOP = 100;
export const MAX_LIST_TOP = 1000;

export const FieldErrorSchema = z
  .object({
    path: z.string().openapi({ description: 'Where the problem is, e.g. members[2].roles[0]; "" for the body.' }),
    message: z.string(),
  })
  .openapi('FieldError');

export const ProblemSchema = z
  .looseObject({
    type: z.string().openapi({ example: 'https://chat-provisioner.dev/problems/validation' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    errors: z.array(FieldErrorSchema).optional(),
  })
  .openapi('Problem', { description: 'RFC 9457 problem details (application/problem+json).' });

// ---------------------------------------------------------------------------------------------
// Batch.

export const BatchRequestSchema = z
  .strictObject({
    requests: z.array(ProvisioningRequestSchema).min(1).max(MAX_BATCH_ITEMS),
  })
  .openapi('BatchRequest', { description: `1 to ${MAX_BATCH_ITEMS} requests; each is judged on its own.` });

/** The envelope only: items are parsed one by one so a bad item never rejects the good ones. */
const BatchEnvelopeSchema = BatchRequestSchema.extend({
  requests: z
    .array(z.unknown(), { error: 'requests must be an array of chat requests' })
    .min(1, { error: 'requests must hold at least one request' })
    .max(MAX_BATCH_ITEMS, { error: `requests can hold at most ${MAX_BATCH_ITEMS} requests` }),
});

export const BatchItemResultSchema = z
  .object({
    index: z.number().int().min(0),
    status: z.enum(['accepted', 'replayed', 'rejected']),
    id: z.string().optional(),
    errors: z.array(FieldErrorSchema).optional(),
  })
  .openapi('BatchItemResult');

export const BatchResultSchema = z
  .object({
    accepted: z.number().int().min(0),
    rejected: z.number().int().min(0),
    results: z.array(BatchItemResultSchema),
  })
  .openapi('BatchResult');

export type BatchParseResult =
  { ok: true; items: { index: number; result: ParseResult }[] } | { ok: false; errors: FieldError[] };

/** The batch envelope, then every item; item error paths start with `requests[i]`. */
export function parseBatchRequest(body: unknown, now: Date, options: ParseOptions = {}): BatchParseResult {
  const envelope = BatchEnvelopeSchema.safeParse(body);
  if (!envelope.success) {
    return {
      ok: false,
      errors: envelope.error.issues.flatMap((issue): FieldError[] =>
        issue.code === 'unrecognized_keys'
          ? issue.keys.map((key) => ({ path: key, message: `Unknown field "${key}": a batch has only "requests"` }))
          : issue.path.length === 0 && issue.code === 'invalid_type'
            ? [{ path: '', message: 'The body must be a JSON object: {"requests": [...]}' }]
            : [{ path: issue.path.map(String).join('.'), message: issue.message }],
      ),
    };
  }
  return {
    ok: true,
    items: envelope.data.requests.map((item, index) => {
      const result = parseProvisioningRequest(item, now, options);
      if (result.ok) return { index, result };
      const errors = result.errors.map((e) => ({
        path: e.path === '' ? `requests[${index}]` : `requests[${index}]${e.path.startsWith('[') ? '' : '.'}${e.path}`,
        message: e.message,
      }));
      return { index, result: { ok: false, errors } };
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// The request resource (mirrors ChatRequestResource in model.ts; checked below at compile time).

export const StateSchema = z.enum(State).openapi('RequestState', {
  description: 'queued → creating → (pending →) succeeded | failed; failed can be retried.',
});

export const MemberSchema = z
  .object({
    user: z.string().openapi({ description: 'Object id or UPN, as given.' }),
    role: RoleSchema,
    tenantId: z.string().optional(),
  })
  .openapi('Member');

export const AppSchema = z
  .object({
    teamsAppId: z.string(),
    rscPermissions: z.array(z.object({ permissionValue: z.string(), permissionType: PermissionTypeSchema })).optional(),
  })
  .openapi('App');

export const RequestErrorSchema = z
  .object({
    code: z.string(),
    message: z.string(),
    httpStatus: z.number().int().optional(),
    retryable: z.boolean(),
    graphRequestId: z.string().optional(),
    clientRequestId: z.string().optional(),
  })
  .openapi('RequestError');

export const CallbackStatusSchema = z
  .object({
    url: z.string(),
    state: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number().int().min(0),
    lastError: z.string().optional(),
    nextAttemptAt: z.string().optional(),
  })
  .openapi('CallbackStatus');

const isoTime = () => z.string().openapi({ format: 'date-time' });

export const WaitingSchema = z
  .object({
    reason: z.enum(WAITING_REASONS).openapi({
      description:
        'notBefore: the caller asked for later; newHireGrace: a member is not found or unlicensed yet, retried for ' +
        'NEW_USER_GRACE_MINUTES; retryBackoff: a transient failure, retried later; throttled: Graph answered 429; ' +
        'operationPending: Graph is creating the chat asynchronously; leased: an attempt is running, or its host ' +
        'stopped and still holds the queue message; inQueue: waiting for a worker.',
    }),
    until: isoTime().optional().openapi({ description: 'When the wait is expected to end, when known.' }),
    message: z.string().openapi({ description: 'One sentence for a person.' }),
  })
  .openapi('Waiting', { description: 'Why an unfinished request is waiting; absent once it is final.' });

export const RequestResourceSchema = z
  .object({
    id: z.string(),
    externalId: z.string().optional(),
    state: StateSchema,
    chatType: ChatTypeSchema,
    topic: z.string().optional(),
    members: z.array(MemberSchema),
    apps: z.array(AppSchema).optional(),
    notBefore: isoTime().optional(),
    createdAt: isoTime(),
    updatedAt: isoTime(),
    attempts: z.number().int().min(0),
    nextAttemptAt: isoTime().optional(),
    chat: z
      .object({
        id: z.string(),
        webUrl: z.string().optional(),
        createdDateTime: z.string().optional(),
        tenantId: z.string().optional(),
      })
      .optional(),
    operation: z
      .object({
        location: z.string(),
        status: z.string(),
        checks: z.number().int().min(0),
        nextCheckAt: z.string().optional(),
        startedAt: z.string().optional(),
      })
      .optional(),
    error: RequestErrorSchema.optional(),
    callback: CallbackStatusSchema.optional(),
    waiting: WaitingSchema.optional(),
  })
  .openapi('ChatRequest', { description: 'A provisioning request and where it stands.' });

type Assignable<To, From extends To> = From;
// Both directions: the schema and the model cannot drift apart without a compile error.
export type _SchemaFitsModel = Assignable<ChatRequestResource, z.infer<typeof RequestResourceSchema>>;
export type _ModelFitsSchema = Assignable<z.infer<typeof RequestResourceSchema>, ChatRequestResource>;

export const RequestListSchema = z
  .object({
    value: z.array(RequestResourceSchema),
    nextLink: z.string().optional().openapi({ description: 'The next page (keeps the filters); absent on the last.' }),
  })
  .openapi('ChatRequestList');

// ---------------------------------------------------------------------------------------------
// List query.

const DURATION = /^(\d{1,6})([smhd])$/;
const DURATION_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export const ListQuerySchema = z.object({
  state: z
    .enum(State, { error: `state must be one of ${Object.values(State).join(', ')}` })
    .optional()
    .openapi({ description: 'Only requests in this state.' }),
  externalId: ExternalIdSchema.optional(),
  since: z
    .string()
    .superRefine((value, ctx) => {
      if (parseIsoDateTime(value) === undefined && !DURATION.test(value)) {
        ctx.addIssue({
          code: 'custom',
          message: `since must be an ISO 8601 date-time with an offset (2025-03-01T08:00:00Z) or a duration back from now like 30m, 1h or 2d; got ${JSON.stringify(value.slice(0, 60))}`,
        });
      }
    })
    .optional()
    .openapi({ description: 'Created at or after this time: ISO 8601, or a duration back from now (30m, 1h, 2d).' }),
  top: z.coerce
    .number({ error: `top must be a whole number from 1 to ${MAX_LIST_TOP}` })
    .int({ error: `top must be a whole number from 1 to ${MAX_LIST_TOP}` })
    .min(1, { error: `top must be a whole number from 1 to ${MAX_LIST_TOP}` })
    .max(MAX_LIST_TOP, { error: `top must be a whole number from 1 to ${MAX_LIST_TOP}` })
    .default(DEFAULT_LIST_TOP)
    .openapi({ description: 'Page size.' }),
  continuationToken: z
    .string()
    .max(4096, { error: 'continuationToken is not one this service issued' })
    .optional()
    .openapi({ description: 'From the previous page’s nextLink.' }),
});

export interface ListQuery {
  state?: State;
  externalId?: string;
  /** ISO 8601 (UTC). */
  since?: string;
  top: number;
  continuationToken?: string;
}

/** The list query; empty values count as absent, unknown parameters (e.g. `code`, the function key) are ignored. */
export function parseListQuery(
  query: Record<string, string | undefined>,
  now: Date,
): { ok: true; value: ListQuery } | { ok: false; errors: FieldError[] } {
  const known: Record<string, string> = {};
  for (const key of Object.keys(ListQuerySchema.shape)) {
    const value = query[key];
    if (value !== undefined && value !== '') known[key] = value;
  }
  const errors: FieldError[] = [];
  // Digits only: Number() would also take "1e2", "0x10" or " ".
  if (known.top !== undefined && !/^\d+$/.test(known.top)) {
    errors.push({ path: 'top', message: `top must be a whole number from 1 to ${MAX_LIST_TOP}` });
    delete known.top;
  }
  const parsed = ListQuerySchema.safeParse(known);
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      errors.push({ path: issue.path.map(String).join('.'), message: issue.message });
  }
  if (!parsed.success || errors.length > 0) return { ok: false, errors };
  const value: ListQuery = { top: parsed.data.top };
  if (parsed.data.state !== undefined) value.state = parsed.data.state;
  if (parsed.data.externalId !== undefined) value.externalId = parsed.data.externalId;
  if (parsed.data.continuationToken !== undefined) value.continuationToken = parsed.data.continuationToken;
  if (parsed.data.since !== undefined) {
    const duration = DURATION.exec(parsed.data.since);
    const ms = duration
      ? now.getTime() - Number(duration[1]) * DURATION_MS[duration[2]!]!
      : parseIsoDateTime(parsed.data.since)!;
    value.since = new Date(ms).toISOString();
  }
  return { ok: true, value };
}

// ---------------------------------------------------------------------------------------------
// Health.

const HealthReportSchema = z.object({
  status: z.enum(['healthy', 'unhealthy']),
  storage: z.object({ ok: z.boolean(), error: z.string().optional() }),
  graph: z.object({
    configured: z.boolean(),
    credential: z.string().openapi({ example: 'managedIdentity' }),
    baseUrl: z.string(),
    simulated: z.boolean(),
  }),
  queue: z.object({
    name: z.string(),
    approximateDepth: z.number().int().optional(),
    poisonDepth: z.number().int().optional(),
    poisonMessages: z
      .array(
        z.object({
          messageId: z.string(),
          insertedOn: isoTime().optional(),
          dequeueCount: z.number().int(),
          problem: z.enum(['notBase64', 'notARequest', 'request']).openapi({
            description:
              'notBase64: the host cannot decode it and no function ever runs on it (it stays until deleted); notARequest: not {id, attempt}; request: ours, the poison function handles it.',
          }),
        }),
      )
      .optional()
      .openapi({ description: 'The visible messages of the poison queue (up to 32), never their content.' }),
  }),
  pending: z.object({ count: z.number().int(), oldestAgeSeconds: z.number().optional() }),
  checkedAt: isoTime(),
  warnings: z
    .array(z.string())
    .optional()
    .openapi({ description: 'What needs attention and what to do, one sentence each (e.g. a stuck poison message).' }),
});

/** 200 when healthy; 503 with the same report, or with `config` naming invalid settings (never their values). */
export const HealthSchema = HealthReportSchema.partial()
  .extend({
    status: z.enum(['healthy', 'unhealthy']),
    config: z.object({ ok: z.boolean(), invalidSettings: z.array(z.string()) }).optional(),
  })
  .openapi('Health', { description: 'Storage reachability and Graph configuration; never a secret or a member.' });

// The report health.ts builds must fit the documented answer.
export type _HealthReportFits = Assignable<z.infer<typeof HealthSchema>, HealthReport>;
