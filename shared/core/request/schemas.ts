import { z } from 'zod';
import { appIdFromBind } from './binds';
import { parseIsoDateTime } from './date-time';
import {
  callbackUrlProblem,
  CHAT_ODATA_TYPE,
  GUID,
  MAX_APPS,
  MAX_EXTERNAL_ID_LENGTH,
  MAX_MEMBERS,
  MAX_MEMBERS_AT_CREATE,
  MAX_TOPIC_LENGTH,
  MEMBER_ODATA_TYPE,
  teamsAppIdProblem,
  userBindProblem,
  userRefProblem,
} from './fields';
import { charLength, kindOf, show } from './text';

/**
 * The two input forms as zod schemas: the Graph create-chat body verbatim, or the compact form, each
 * plus the service fields (externalId, callbackUrl, notBefore) that never go to Graph. Declared once:
 * the OpenAPI document is generated from the same ones (api-schemas.ts registers them).
 */

function requiredOr(label: string, expected: string) {
  return (issue: { input?: unknown }) =>
    issue.input === undefined
      ? `${label} is required: ${expected}`
      : `${label} must be ${expected}; got ${kindOf(issue.input)}`;
}

/** A strict object whose unknown-key and type messages name the object and the fields it allows. */
function strictObject<T extends z.ZodRawShape>(label: string, shape: T) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `${label} has only these fields: ${allowed}`
        : issue.input === undefined
          ? `${label} is required`
          : `${label} must be a JSON object; got ${kindOf(issue.input)}`,
  });
}

export const ChatTypeSchema = z
  .enum(['oneOnOne', 'group'], {
    error: (issue) =>
      issue.input === 'meeting'
        ? 'chatType "meeting" cannot be created here: meeting chats are created by Teams meetings, not by this API; use "oneOnOne" or "group"'
        : requiredOr('chatType', '"oneOnOne" or "group"')(issue),
  })
  .meta({ description: 'The kind of chat. Meeting chats are created by meetings, not by this API.' });

export const RoleSchema = z
  .enum(['owner', 'guest'], {
    error: (issue) =>
      typeof issue.input === 'string'
        ? `role ${show(issue.input)} is not supported: use "owner" or "guest"`
        : requiredOr('role', '"owner" or "guest"')(issue),
  })
  .meta({ description: 'In-tenant guests must be "guest"; everyone else, including external users, "owner".' });

export const TenantIdSchema = z
  .string({ error: requiredOr('tenantId', 'the member’s directory (tenant) id, a GUID') })
  .regex(GUID, {
    error: (issue) => `tenantId must be a GUID like 4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1; got ${kindOf(issue.input)}`,
  })
  .meta({
    description: 'The tenant of a federated (other-tenant) user, who must then have the role "owner".',
    example: '4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1',
  });

export const UserRefSchema = z
  .string({ error: requiredOr('user', 'an object id or user principal name (UPN)') })
  .superRefine((user, ctx) => {
    const problem = userRefProblem(user);
    if (problem) ctx.addIssue({ code: 'custom', message: `user ${problem}` });
  })
  .meta({
    description:
      'The user’s Entra object id or user principal name (UPN); guests’ UPNs with #EXT# as they are. No /, \\, ?, whitespace, control or invisible formatting characters, no percent-escapes.',
    example: 'ana@contoso.com',
  });

export const TopicSchema = z
  .string({
    error: requiredOr('topic', `a string of at most ${MAX_TOPIC_LENGTH} characters (leave topic out for none)`),
  })
  .superRefine((topic, ctx) => {
    if (topic.trim() === '')
      ctx.addIssue({ code: 'custom', message: 'topic must not be empty; leave it out for a chat without a title' });
    const length = charLength(topic);
    if (length > MAX_TOPIC_LENGTH) {
      ctx.addIssue({
        code: 'custom',
        message: `topic has ${length} characters; at most ${MAX_TOPIC_LENGTH} are allowed`,
      });
    }
    if (topic.includes(':')) ctx.addIssue({ code: 'custom', message: 'topic must not contain ":" (Teams rejects it)' });
  })
  .meta({
    description: 'Group chats only; at most 250 characters, no ":". null means no topic (and is not sent to Graph).',
    maxLength: MAX_TOPIC_LENGTH,
  });

export const ExternalIdSchema = z
  .string({ error: requiredOr('externalId', `a string of 1 to ${MAX_EXTERNAL_ID_LENGTH} characters`) })
  .superRefine((id, ctx) => {
    const length = charLength(id);
    if (length === 0 || length > MAX_EXTERNAL_ID_LENGTH) {
      ctx.addIssue({
        code: 'custom',
        message: `externalId must have 1 to ${MAX_EXTERNAL_ID_LENGTH} characters; it has ${length}`,
      });
    }
    if (/[\p{Cc}]/u.test(id))
      ctx.addIssue({ code: 'custom', message: 'externalId must not contain control characters' });
  })
  .meta({
    description: 'The caller’s own id (e.g. the HR case number); also an idempotency key. Never sent to Graph.',
    example: 'hr-4711',
    minLength: 1,
    maxLength: MAX_EXTERNAL_ID_LENGTH,
  });

export const CallbackUrlSchema = z
  .string({ error: requiredOr('callbackUrl', 'an absolute https:// URL') })
  .superRefine((value, ctx) => {
    const problem = callbackUrlProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .meta({ description: 'Called when the request reaches a final state. Never sent to Graph.', format: 'uri' });

export const NotBeforeSchema = z
  .string({ error: requiredOr('notBefore', 'an ISO 8601 date-time with an offset') })
  .superRefine((value, ctx) => {
    if (parseIsoDateTime(value) === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `notBefore must be an ISO 8601 date-time with an offset, like 2025-03-01T08:00:00Z or 2025-03-01T09:00:00+01:00; got ${show(value)}`,
      });
    }
  })
  .meta({
    description: 'Do not create the chat before this time (at most one year ahead). Never sent to Graph.',
    format: 'date-time',
  });

export const PermissionValueSchema = z
  .string({ error: requiredOr('permissionValue', 'an RSC permission name like "ChatMessage.Read.Chat"') })
  .superRefine((value, ctx) => {
    if (value === '' || /[\s\p{Cc}]/u.test(value)) {
      ctx.addIssue({
        code: 'custom',
        message: `permissionValue must be an RSC permission name like "ChatMessage.Read.Chat"; got ${show(value)}`,
      });
    }
  })
  .meta({ example: 'ChatMessage.Read.Chat' });

export const PermissionTypeSchema = z.enum(['application', 'delegated'], {
  error: (issue) =>
    typeof issue.input === 'string'
      ? `permissionType ${show(issue.input)} is not supported: use "application" or "delegated"`
      : requiredOr('permissionType', '"application" or "delegated"')(issue),
});

export const RscPermissionSchema = strictObject('A resource-specific permission', {
  permissionValue: PermissionValueSchema,
  permissionType: PermissionTypeSchema,
}).meta({ id: 'ResourceSpecificPermission' });

export const UserBindSchema = z
  .string({ error: requiredOr('user@odata.bind', "https://graph.microsoft.com/v1.0/users('<object id or UPN>')") })
  .superRefine((bind, ctx) => {
    const problem = userBindProblem(bind);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .meta({
    description:
      "users('<object id or UPN>') or users/<object id or UPN> (no # there: use the quoted form for guests' #EXT# UPNs), on the Graph host of GRAPH_BASE_URL's cloud.",
    example: "https://graph.microsoft.com/v1.0/users('8b081ef6-4792-4def-b2c9-c363a1bf41d5')",
  });

export const AppBindSchema = z
  .string({
    error: requiredOr('teamsApp@odata.bind', 'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/<app id>'),
  })
  .superRefine((bind, ctx) => {
    const id = appIdFromBind(bind);
    const problem = id === undefined ? 'is not an app catalog URL' : teamsAppIdProblem(id);
    if (problem) {
      ctx.addIssue({
        code: 'custom',
        message: `teamsApp@odata.bind must be https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/<app id> (v1.0 or beta); the app id ${id === undefined ? `in ${show(bind)} is missing` : problem}`,
      });
    }
  })
  .meta({ example: 'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/05F59CEC-A742-4A50-A62E-202A57E478A4' });

export const TeamsAppIdSchema = z
  .string({ error: requiredOr('teamsAppId', 'the app’s id in the Teams app catalog') })
  .superRefine((id, ctx) => {
    const problem = teamsAppIdProblem(id);
    if (problem) ctx.addIssue({ code: 'custom', message: `teamsAppId ${problem}` });
  })
  .meta({ example: '05F59CEC-A742-4A50-A62E-202A57E478A4' });

export const VisibleHistoryStartSchema = z
  .string({ error: requiredOr('visibleHistoryStartDateTime', 'an ISO 8601 date-time with an offset, or null') })
  .superRefine((value, ctx) => {
    if (parseIsoDateTime(value) === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `visibleHistoryStartDateTime must be an ISO 8601 date-time with an offset, like 2019-04-18T23:51:43.255Z; got ${show(value)}`,
      });
    }
  })
  .meta({
    description:
      'How far back the chat history is shared with this member (conversationMember in Graph v1.0). Passed to Graph as given.',
    format: 'date-time',
  });

export const GraphMemberSchema = strictObject('A Graph member', {
  '@odata.type': z
    .literal(MEMBER_ODATA_TYPE, {
      error: (issue) =>
        issue.input === undefined
          ? `@odata.type is required on a Graph member: "${MEMBER_ODATA_TYPE}"`
          : `@odata.type must be "${MEMBER_ODATA_TYPE}"; got ${kindOf(issue.input)}`,
    })
    .meta({ description: 'Only Entra (Azure AD) users can be added.' }),
  roles: z
    .array(RoleSchema, { error: requiredOr('roles', 'an array with exactly one role: ["owner"] or ["guest"]') })
    .superRefine(
      (roles, ctx) => {
        if (roles.length !== 1) {
          ctx.addIssue({
            code: 'custom',
            message: `roles must hold exactly one role, ["owner"] or ["guest"]; got ${roles.length}`,
          });
        }
      },
      // Checked even when a role inside is wrong, so both problems are reported.
      { when: (payload) => Array.isArray(payload.value) },
    )
    .meta({ minItems: 1, maxItems: 1 }),
  'user@odata.bind': UserBindSchema,
  tenantId: TenantIdSchema.optional(),
  visibleHistoryStartDateTime: VisibleHistoryStartSchema.nullable().optional(),
}).meta({ id: 'GraphChatMember', description: 'An aadUserConversationMember as Graph takes it.' });

export const GraphInstalledAppSchema = strictObject('An installed app', {
  'teamsApp@odata.bind': AppBindSchema,
  consentedPermissionSet: strictObject('consentedPermissionSet', {
    resourceSpecificPermissions: z.array(RscPermissionSchema, {
      error: requiredOr('resourceSpecificPermissions', 'an array of {permissionValue, permissionType}'),
    }),
  }).optional(),
}).meta({ id: 'GraphInstalledApp' });

const serviceFields = {
  externalId: ExternalIdSchema.optional(),
  callbackUrl: CallbackUrlSchema.optional(),
  notBefore: NotBeforeSchema.optional(),
};

const membersDescription = `A oneOnOne chat has exactly 2, a group chat 2 to ${MAX_MEMBERS_AT_CREATE} (Teams adds at most ${MAX_MEMBERS_AT_CREATE} people at a time, creation included; the chat may grow to ${MAX_MEMBERS} later). Each user once.`;

export const GraphRequestSchema = strictObject('The request body (Graph form)', {
  '@odata.type': z.literal(CHAT_ODATA_TYPE, { error: requiredOr('@odata.type', `"${CHAT_ODATA_TYPE}"`) }).optional(),
  chatType: ChatTypeSchema,
  topic: TopicSchema.nullable().optional(),
  members: z
    .array(GraphMemberSchema, { error: requiredOr('members', 'an array of aadUserConversationMember objects') })
    .meta({ description: membersDescription, minItems: 2, maxItems: MAX_MEMBERS_AT_CREATE }),
  installedApps: z
    .array(GraphInstalledAppSchema, { error: requiredOr('installedApps', 'an array with at most one app') })
    .meta({ maxItems: MAX_APPS })
    .optional(),
  ...serviceFields,
}).meta({
  id: 'GraphCreateChatRequest',
  description: 'The Microsoft Graph create-chat body verbatim, plus the optional service fields.',
});

export const CompactMemberSchema = z
  .union(
    [
      UserRefSchema,
      strictObject('A member', {
        user: UserRefSchema,
        role: RoleSchema.optional().meta({ default: 'owner' }),
        tenantId: TenantIdSchema.optional(),
      }),
    ],
    { error: requiredOr('A member', 'a user id or UPN string, or {user, role?, tenantId?}') },
  )
  .meta({ id: 'CompactMember' });

export const CompactAppSchema = strictObject('An app', {
  teamsAppId: TeamsAppIdSchema,
  rscPermissions: z
    .array(
      z.union([PermissionValueSchema, RscPermissionSchema], {
        error: requiredOr('An RSC permission', 'a permission name or {permissionValue, permissionType}'),
      }),
      { error: requiredOr('rscPermissions', 'an array of permission names') },
    )
    .superRefine((list, ctx) => {
      if (list.length === 0) {
        ctx.addIssue({
          code: 'custom',
          message: 'rscPermissions must list at least one permission; leave it out for none',
        });
      }
    })
    .meta({ description: 'A bare name means permissionType "application".', minItems: 1 })
    .optional(),
}).meta({ id: 'CompactApp' });

export const CompactRequestSchema = strictObject('The request body (compact form)', {
  chatType: ChatTypeSchema,
  topic: TopicSchema.nullable().optional(),
  members: z
    .array(CompactMemberSchema, { error: requiredOr('members', 'an array of users') })
    .meta({ description: membersDescription, minItems: 2, maxItems: MAX_MEMBERS_AT_CREATE }),
  apps: z
    .array(CompactAppSchema, { error: requiredOr('apps', 'an array with at most one app') })
    .meta({ maxItems: MAX_APPS })
    .optional(),
  ...serviceFields,
}).meta({ id: 'CompactChatRequest', description: 'The compact form; roles default to "owner".' });

/** Either form. Parsing picks the form first (for precise messages); this union documents both. */
export const ProvisioningRequestSchema = z
  .union([CompactRequestSchema, GraphRequestSchema])
  .meta({ id: 'ChatRequestBody', description: 'A provisioning request: the compact form or the Graph body.' });

export type CompactRequest = z.infer<typeof CompactRequestSchema>;
