import { createHash } from 'node:crypto';
import { z } from 'zod';
import { type Config, isLoopbackHost } from './config';
import type { App, GraphCreateChatBody, GraphInstalledApp, GraphMember, Member } from './model';

/**
 * One provisioning request: the Graph create-chat body verbatim, or the compact form, plus the
 * service fields (externalId, callbackUrl, notBefore) that never go to Graph.
 * Shapes are zod schemas declared once (the OpenAPI document is generated from the same ones);
 * rules that span fields (counts, duplicates, topic on 1:1, notBefore vs now) are a second pass
 * over the input, so every problem is reported even when some shapes are wrong.
 */

export interface FieldError {
  /** Where the problem is, e.g. `members[2].roles[0]` or `topic`; `""` for the body itself. */
  path: string;
  message: string;
}

export interface ParsedRequest {
  /** The canonical Graph create-chat body, sent as it is. */
  graphBody: GraphCreateChatBody;
  externalId?: string;
  callbackUrl?: string;
  /** ISO 8601 in UTC (`toISOString()`), normalised from whatever offset was given. */
  notBefore?: string;
  members: Member[];
  apps?: App[];
  chatType: 'oneOnOne' | 'group';
  topic?: string;
}

export type ParseResult = { ok: true; value: ParsedRequest } | { ok: false; errors: FieldError[] };

export const GRAPH_ROOT = 'https://graph.microsoft.com';
/**
 * Microsoft Graph's hosts: the global service and the national clouds (US Government L4 and L5 (DoD),
 * China operated by 21Vianet), from Microsoft's "National cloud deployments" page.
 */
export const GRAPH_HOSTS = [
  'graph.microsoft.com',
  'graph.microsoft.us',
  'dod-graph.microsoft.us',
  'microsoftgraph.chinacloudapi.cn',
] as const;
/** A group chat holds up to this many people (Teams limits)... */
export const MAX_MEMBERS = 250;
/** ...but Teams adds at most this many at a time, and creating the chat is such an addition. */
export const MAX_MEMBERS_AT_CREATE = 200;
export const MAX_APPS = 1;
export const MAX_TOPIC_LENGTH = 250;
export const MAX_EXTERNAL_ID_LENGTH = 128;
export const MAX_CALLBACK_URL_LENGTH = 2048;
/** A body with more problems than this lists the first ones and says how many more there are. */
export const MAX_REPORTED_ERRORS = 100;
export const SERVICE_FIELDS = ['externalId', 'callbackUrl', 'notBefore'] as const;

const MEMBER_ODATA_TYPE = '#microsoft.graph.aadUserConversationMember';
const CHAT_ODATA_TYPE = '#microsoft.graph.chat';
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const GRAPH_HOST = GRAPH_HOSTS.map((h) => h.replace(/\./g, '\\.')).join('|');
// users('<key>'): the OData key literal, quotes inside doubled, so the text between the outer quotes never
// holds a lone '. users/<key>: a URL path segment, so it cannot hold /, ? or # (# would start a fragment).
const USER_BIND = new RegExp(`^https://(${GRAPH_HOST})/(?:v1\\.0|beta)/users(?:\\('((?:[^']|'')*)'\\)|/([^/?#]+))$`);
// The users/<key> form with a # in the key: well meant (a guest's #EXT# UPN) but cut short by the fragment.
const USER_PATH_BIND_WITH_HASH = new RegExp(`^https://(?:${GRAPH_HOST})/(?:v1\\.0|beta)/users/([^/?]*#[^/?]*)$`);
const APP_BIND = new RegExp(`^https://(${GRAPH_HOST})/(?:v1\\.0|beta)/appCatalogs/teamsApps/([^/]*)$`);
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|([+-])(\d{2}):(\d{2}))$/;

// ---------------------------------------------------------------------------------------------
// Small text helpers for messages.

function kindOf(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${show(value)}`;
  return `${typeof value === 'number' ? 'the number' : 'the value'} ${String(value)}`;
}

/**
 * A value quoted for a message, cut short so a huge input cannot make a huge answer. Invisible formatting
 * characters are written as \u escapes, so a right-to-left override cannot reorder the message itself.
 */
function show(value: string): string {
  const cut = [...value];
  return JSON.stringify(cut.length > 60 ? `${cut.slice(0, 57).join('')}...` : value).replace(
    /\p{Cf}/gu,
    (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`,
  );
}

function charLength(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}

function describeChar(ch: string): string {
  if (ch === ' ') return 'a space';
  const code = `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
  // Format characters (category Cf): the right-to-left override, zero-width space, byte order mark...
  if (/^\p{Cf}$/u.test(ch)) return `the invisible formatting character ${code}`;
  if (/^[\s\p{Z}\p{Cc}\p{Cs}]$/u.test(ch)) return `the character ${code}`;
  return `"${ch}"`;
}

/**
 * The first character an object id or UPN cannot hold, if any. `#` is allowed: guests' UPNs hold `#EXT#`.
 * Invisible formatting characters (Cf) are refused: in a user name they can only be a mistake or spoofing
 * (a right-to-left override makes one address read as another).
 */
function forbiddenUserChar(user: string): string | undefined {
  return /[/\\?\s\p{Z}\p{Cc}\p{Cs}\p{Cf}]/u.exec(user)?.[0];
}

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

// ---------------------------------------------------------------------------------------------
// Field checks shared by the schemas and the second pass.

export function userRefProblem(user: string): string | undefined {
  if (user.length === 0) return 'is empty; give the user’s object id or user principal name (UPN)';
  const bad = forbiddenUserChar(user);
  if (bad !== undefined) {
    return `${show(user)} contains ${describeChar(bad)}; an object id or UPN cannot hold /, \\, ?, whitespace, control or invisible formatting characters`;
  }
  // The service encodes what a URL needs; an escape written by the caller would reach Graph as the text "%40".
  const escape = /%[0-9A-Fa-f]{2}/.exec(user)?.[0];
  if (escape !== undefined) {
    const meant = decodedEscape(escape);
    return `${show(user)} holds the percent-escape "${escape}"; write the character itself${meant ? ` (${meant})` : ''}: the service encodes what a URL needs`;
  }
  // "." and ".." are path segments of their own: in a URL they would move it to another resource.
  if (/^\.+$/.test(user)) return `${show(user)} is only dots, which no object id or UPN is`;
  return undefined;
}

/** What a percent-escape stands for, quoted, when it is a visible character on its own. */
function decodedEscape(escape: string): string | undefined {
  try {
    const ch = decodeURIComponent(escape);
    return /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(ch) ? `"${ch}"` : undefined;
  } catch {
    return undefined;
  }
}

function teamsAppIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'is empty; give the app’s id in the Teams app catalog';
  const bad = /[/?#\s\p{Z}\p{Cc}\p{Cs}]/u.exec(id)?.[0];
  if (bad !== undefined)
    return `${show(id)} contains ${describeChar(bad)}; a Teams app id cannot hold /, ?, #, whitespace or control characters`;
  return undefined;
}

/** Parses an ISO 8601 date-time with an offset; undefined when it is not one (or names no real instant). */
export function parseIsoDateTime(value: string): number | undefined {
  const m = ISO_DATE_TIME.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, , sign, oh, om] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = s === undefined ? 0 : Number(s);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  if (sign !== undefined && (Number(oh) > 23 || Number(om) > 59)) return undefined;
  const base = new Date(0);
  base.setUTCFullYear(year, month - 1, day);
  base.setUTCHours(hour, minute, second, frac === undefined ? 0 : Math.floor(Number(`0${frac}`) * 1000));
  const offsetMinutes = sign === undefined ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om));
  return base.getTime() - offsetMinutes * 60_000;
}

function callbackUrlProblem(value: string): string | undefined {
  const expected = 'an absolute https:// URL without user name or password, e.g. https://hooks.contoso.com/chats';
  if (value.length > MAX_CALLBACK_URL_LENGTH) return `callbackUrl is longer than ${MAX_CALLBACK_URL_LENGTH} characters`;
  if (/[\s\p{Cc}]/u.test(value)) return `callbackUrl must be ${expected}; it contains whitespace or control characters`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `callbackUrl must be ${expected}; ${show(value)} is not a URL`;
  }
  // http to a loopback host passes the shape check; parseProvisioningRequest allows it only in the local run.
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname)))
    return `callbackUrl must be ${expected}; got the scheme "${url.protocol.slice(0, -1)}"`;
  if (url.username !== '' || url.password !== '')
    return `callbackUrl must not carry a user name or password (${expected})`;
  if (url.hostname === '') return `callbackUrl must be ${expected}; it names no host`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The schemas (declared once; api-schemas.ts registers them for OpenAPI).

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

/** Why a user bind cannot be taken, if it cannot. */
function userBindProblem(bind: string): string | undefined {
  const hashed = USER_PATH_BIND_WITH_HASH.exec(bind)?.[1];
  if (hashed !== undefined) {
    return `user@odata.bind ${show(bind)} has a "#" in the users/<id> form, where "#" starts a URL fragment and cuts the UPN short; write the users('…') form instead: ${show(`users('${hashed.replace(/'/g, "''")}')`)}`;
  }
  const user = userFromBind(bind);
  if (user === undefined) {
    return `user@odata.bind must be https://graph.microsoft.com/v1.0/users('<object id or UPN>') or .../users/<object id or UPN> (v1.0 or beta; a national cloud's Graph host instead of graph.microsoft.com), with any ' inside the quotes written as ''; got ${show(bind)}`;
  }
  const problem = userRefProblem(user);
  return problem === undefined ? undefined : `the user in user@odata.bind ${problem}`;
}

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

// ---------------------------------------------------------------------------------------------
// Binds.

/**
 * The OData bind for a user: any ' inside the key is doubled, so no input can end the literal early.
 * The quoted form carries every UPN as it is, a guest's `#EXT#` included.
 */
export function bindForUser(user: string, root: string = GRAPH_ROOT): string {
  return `${root}/v1.0/users('${user.replace(/'/g, "''")}')`;
}

/**
 * The user a bind names: users('…') with quotes un-doubled, or users/… as written; undefined when it is
 * neither on a Graph host (or users/… holds a #).
 */
export function userFromBind(bind: string): string | undefined {
  const match = USER_BIND.exec(bind);
  if (!match) return undefined;
  return match[2] !== undefined ? match[2].replace(/''/g, "'") : match[3];
}

export function bindForApp(teamsAppId: string, root: string = GRAPH_ROOT): string {
  return `${root}/v1.0/appCatalogs/teamsApps/${teamsAppId}`;
}

export function appIdFromBind(bind: string): string | undefined {
  return APP_BIND.exec(bind)?.[2];
}

/** The Graph host a user or app bind names, if it is one. */
function bindHost(bind: string): string | undefined {
  return (USER_BIND.exec(bind) ?? APP_BIND.exec(bind))?.[1];
}

/**
 * The Graph host binds must name when the service calls Graph at `graphBaseUrl`: that host for a national
 * cloud; graph.microsoft.com for the global service and anything else (the local simulator models it).
 */
export function graphCloudHost(graphBaseUrl: string): string {
  let host: string;
  try {
    host = new URL(graphBaseUrl).hostname.toLowerCase();
  } catch {
    return GRAPH_HOSTS[0];
  }
  return (GRAPH_HOSTS as readonly string[]).includes(host) ? host : GRAPH_HOSTS[0];
}

// ---------------------------------------------------------------------------------------------
// Parsing.

type Form = 'graph' | 'compact';
type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const GRAPH_MEMBER_KEYS = ['@odata.type', 'roles', 'user@odata.bind'];
const COMPACT_MEMBER_KEYS = ['user', 'role'];

function memberForm(item: unknown): Form | undefined {
  if (typeof item === 'string') return 'compact';
  if (!isObject(item)) return undefined;
  if (GRAPH_MEMBER_KEYS.some((k) => Object.hasOwn(item, k))) return 'graph';
  if (COMPACT_MEMBER_KEYS.some((k) => Object.hasOwn(item, k))) return 'compact';
  return undefined;
}

const FORM_HINT: Record<Form, string> = {
  graph: 'the Graph form (aadUserConversationMember objects, installedApps)',
  compact: 'the compact form (user strings or {user, role} objects, apps)',
};

interface Signal {
  path: string;
  form: Form;
  what: string;
}

function memberSignal(item: unknown, i: number): Signal | undefined {
  const form = memberForm(item);
  if (form === undefined) return undefined;
  const what =
    form === 'graph'
      ? 'This member is a Graph member object (the Graph form)'
      : typeof item === 'string'
        ? 'This member is a string (the compact form)'
        : 'This member is a {user, role} object (the compact form)';
  return { path: `members[${i}]`, form, what };
}

/** Which form the body is written in, and an error for every part written in the other one. */
function detectForm(body: JsonObject): { form: Form; errors: FieldError[]; mixed: string[] } {
  const members: unknown[] = Array.isArray(body.members) ? body.members : [];
  const memberSignals = members.map(memberSignal).filter((s): s is Signal => s !== undefined);
  const topSignals: Signal[] = [];
  if (Object.hasOwn(body, 'installedApps')) {
    topSignals.push({ path: 'installedApps', form: 'graph', what: '"installedApps" belongs to the Graph form' });
  }
  if (Object.hasOwn(body, 'apps')) {
    topSignals.push({ path: 'apps', form: 'compact', what: '"apps" belongs to the compact form' });
  }
  if (Object.hasOwn(body, '@odata.type')) {
    topSignals.push({ path: '["@odata.type"]', form: 'graph', what: '"@odata.type" belongs to the Graph form' });
  }

  // The members decide (most of them win, a tie goes to the first); without any, the top-level fields do.
  const voters = memberSignals.length > 0 ? memberSignals : topSignals;
  const graphVotes = voters.filter((s) => s.form === 'graph').length;
  const compactVotes = voters.length - graphVotes;
  const form: Form =
    graphVotes === compactVotes ? (voters[0]?.form ?? 'graph') : graphVotes > compactVotes ? 'graph' : 'compact';

  const all = [...memberSignals, ...topSignals];
  const example = all.find((s) => s.form === form);
  const errors: FieldError[] = [];
  const mixed: string[] = [];
  for (const signal of all) {
    if (signal.form === form) continue;
    mixed.push(signal.path);
    errors.push({
      path: signal.path,
      message: `${signal.what}, but the body is in ${FORM_HINT[form]}${example ? ` (see ${example.path})` : ''}; write the whole body in one form`,
    });
  }
  return { form, errors, mixed };
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else {
      const key = String(part);
      if (/^[A-Za-z_$][\w$]*$/.test(key)) out += out === '' ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

/** zod issues as field errors; a union reports the branch whose type matched, unknown keys one error each. */
function toFieldErrors(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): FieldError[] {
  const errors: FieldError[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        errors.push({ path: formatPath([...path, key]), message: `Unknown field ${show(key)}: ${issue.message}` });
      }
    } else if (issue.code === 'invalid_union') {
      const matched = issue.errors.filter(
        (branch) => !branch.every((inner) => inner.code === 'invalid_type' && inner.path.length === 0),
      );
      if (matched.length === 1) errors.push(...toFieldErrors(matched[0]!, path));
      else errors.push({ path: formatPath(path), message: issue.message });
    } else {
      errors.push({ path: formatPath(path), message: issue.message });
    }
  }
  return errors;
}

function within(path: string, prefixes: readonly string[]): boolean {
  return prefixes.some((p) => path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`));
}

/** The user a raw member names (either form), for duplicate checks; undefined when it names none. */
function userOfRawMember(item: unknown): string | undefined {
  if (typeof item === 'string') return item;
  if (!isObject(item)) return undefined;
  if (typeof item['user@odata.bind'] === 'string') return userFromBind(item['user@odata.bind']);
  if (typeof item.user === 'string') return item.user;
  return undefined;
}

/** Rules across fields, run on the raw input so they report even when some shapes are wrong. */
function crossFieldErrors(body: JsonObject, form: Form, now: Date, options: ParseOptions): FieldError[] {
  const errors: FieldError[] = [];
  const chatType = body.chatType === 'oneOnOne' || body.chatType === 'group' ? body.chatType : undefined;

  // "topic": null is no topic (what serialisers write for an unset property), so it is fine on a 1:1 chat.
  if (chatType === 'oneOnOne' && body.topic !== undefined && body.topic !== null) {
    errors.push({
      path: 'topic',
      message: 'Setting topic is not allowed for 1-on-1 chats; leave topic out or use chatType "group"',
    });
  }

  if (Array.isArray(body.members)) {
    const members: unknown[] = body.members;
    const seen = new Map<string, number>();
    let duplicates = 0;
    members.forEach((item, i) => {
      const user = userOfRawMember(item);
      if (user === undefined || user === '') return;
      const key = user.toLowerCase();
      const first = seen.get(key);
      if (first === undefined) {
        seen.set(key, i);
        return;
      }
      duplicates++;
      errors.push({
        path: `members[${i}]`,
        message: `${show(user)} is the same user as members[${first}]; each user can be a member only once`,
      });
    });
    const distinct = members.length - duplicates;
    if (members.length > MAX_MEMBERS_AT_CREATE) {
      errors.push({
        path: 'members',
        message: `A chat can be created with at most ${MAX_MEMBERS_AT_CREATE} members: Teams adds at most ${MAX_MEMBERS_AT_CREATE} people at a time, creation included (a group chat may grow to ${MAX_MEMBERS} later); got ${members.length}`,
      });
    }
    if (options.appTenantId !== undefined) errors.push(...federatedRoleErrors(members, form, options.appTenantId));
    if (form === 'graph' && options.graphBaseUrl !== undefined) {
      members.forEach((item, i) => {
        const error = cloudError(item, 'user@odata.bind', options.graphBaseUrl!, `members[${i}]`);
        if (error) errors.push(error);
      });
    }
    if (chatType === 'oneOnOne' && distinct !== 2) {
      errors.push({
        path: 'members',
        message: `A oneOnOne chat has exactly 2 distinct members; got ${distinct}${distinct > 2 ? ' (use chatType "group" for more)' : ''}`,
      });
    }
    if (chatType === 'group' && distinct < 2) {
      errors.push({ path: 'members', message: `A group chat needs at least 2 distinct members; got ${distinct}` });
    }
  }

  const appsField = form === 'graph' ? 'installedApps' : 'apps';
  const apps = body[appsField];
  if (Array.isArray(apps) && apps.length > MAX_APPS) {
    errors.push({
      path: appsField,
      message: `At most ${MAX_APPS} app can be installed when a chat is created; got ${apps.length}`,
    });
  }
  if (form === 'graph' && options.graphBaseUrl !== undefined && Array.isArray(apps)) {
    apps.forEach((item, i) => {
      const error = cloudError(item, 'teamsApp@odata.bind', options.graphBaseUrl!, `installedApps[${i}]`);
      if (error) errors.push(error);
    });
  }

  if (typeof body.notBefore === 'string') {
    const at = parseIsoDateTime(body.notBefore);
    const limit = new Date(now.getTime());
    limit.setUTCFullYear(limit.getUTCFullYear() + 1);
    if (at !== undefined && at > limit.getTime()) {
      errors.push({
        path: 'notBefore',
        message: `notBefore must be at most one year ahead (not after ${limit.toISOString()}); got ${body.notBefore}`,
      });
    }
  }
  return errors;
}

/**
 * A member of another tenant (federated) must be an owner: the create-chat docs say "Out-of-tenant external
 * users must be assigned with owner role". Only "guest" is judged here; any other role has its own error.
 */
function federatedRoleErrors(members: unknown[], form: Form, appTenantId: string): FieldError[] {
  const errors: FieldError[] = [];
  members.forEach((item, i) => {
    if (!isObject(item) || typeof item.tenantId !== 'string') return;
    if (item.tenantId.toLowerCase() === appTenantId.toLowerCase()) return;
    const roles = item.roles;
    const role = form === 'graph' ? (Array.isArray(roles) ? (roles[0] as unknown) : undefined) : (item.role ?? 'owner');
    if (role !== 'guest') return;
    errors.push({
      path: form === 'graph' ? `members[${i}].roles[0]` : `members[${i}].role`,
      message: `members[${i}] is in another tenant (${show(item.tenantId)}) than the app's (GRAPH_TENANT_ID): a federated user must have the role "owner", not "guest" (Graph refuses it)`,
    });
  });
  return errors;
}

/** A bind to another cloud's Graph than the one the service calls: that cloud's users and apps are not there. */
function cloudError(item: unknown, field: string, graphBaseUrl: string, at: string): FieldError | undefined {
  if (!isObject(item) || typeof item[field] !== 'string') return undefined;
  const host = bindHost(item[field]);
  const expected = graphCloudHost(graphBaseUrl);
  if (host === undefined || host === expected) return undefined;
  return {
    path: `${at}[${JSON.stringify(field)}]`,
    message: `${field} names Graph at ${host}, but GRAPH_BASE_URL points this service at ${expected === GRAPH_HOSTS[0] ? 'the global cloud' : 'a national cloud'} (${expected}): a bind must name the Graph of that same cloud, whose directory holds the users`,
  };
}

function capped(errors: FieldError[]): FieldError[] {
  if (errors.length <= MAX_REPORTED_ERRORS) return errors;
  return [
    ...errors.slice(0, MAX_REPORTED_ERRORS),
    {
      path: '',
      message: `...and ${errors.length - MAX_REPORTED_ERRORS} more problems (only the first ${MAX_REPORTED_ERRORS} are listed)`,
    },
  ];
}

export interface ParseOptions {
  /** The local run (ALLOW_LOCALHOST_CALLBACKS): http callbacks to a loopback host are allowed. */
  allowLoopbackHttpCallback?: boolean;
  /**
   * GRAPH_BASE_URL: binds must name the Graph host of its cloud, and compact binds are written there.
   * Without it (e.g. the CLI's check before upload) binds of any Graph cloud pass and compact binds are global.
   */
  graphBaseUrl?: string;
  /** GRAPH_TENANT_ID: a member with another tenantId is federated and must be an owner. Unknown: not checked. */
  appTenantId?: string;
}

/** The options the service's own configuration gives (the intake functions parse with these). */
export function parseOptionsFor(config: Pick<Config, 'graph' | 'callback'>): ParseOptions {
  const options: ParseOptions = {
    allowLoopbackHttpCallback: config.callback.allowLocalhost,
    graphBaseUrl: config.graph.baseUrl,
  };
  const tenantId = config.graph.credential.tenantId;
  if (tenantId !== undefined) options.appTenantId = tenantId;
  return options;
}

/** Parses one provisioning request (either form); on failure lists every problem found. */

export function parseProvisioningRequest(body: unknown, now: Date, options: ParseOptions = {}): ParseResult {
  if (!isObject(body)) {
    return {
      ok: false,
      errors: [{ path: '', message: `The body must be a JSON object (a chat request); got ${kindOf(body)}` }],
    };
  }
  const { form, errors: formErrors, mixed } = detectForm(body);
  const schema = form === 'graph' ? GraphRequestSchema : CompactRequestSchema;
  const parsed = schema.safeParse(body);
  const shapeErrors = parsed.success ? [] : toFieldErrors(parsed.error.issues).filter((e) => !within(e.path, mixed));
  const errors = [
    ...formErrors,
    ...shapeErrors,
    ...crossFieldErrors(body, form, now, options),
    ...localCallbackErrors(body, options),
  ];
  if (errors.length > 0 || !parsed.success) {
    return { ok: false, errors: capped(errors.length > 0 ? errors : [{ path: '', message: 'The body is not valid' }]) };
  }

  const root = options.graphBaseUrl === undefined ? GRAPH_ROOT : `https://${graphCloudHost(options.graphBaseUrl)}`;
  const graphBody =
    form === 'graph' ? graphBodyFromGraphForm(body) : graphBodyFromCompactForm(parsed.data as CompactRequest, root);
  const value: ParsedRequest = { graphBody, ...resourceView(graphBody) };
  const data = parsed.data as { externalId?: string; callbackUrl?: string; notBefore?: string };
  if (data.externalId !== undefined) value.externalId = data.externalId;
  if (data.callbackUrl !== undefined) value.callbackUrl = data.callbackUrl;
  if (data.notBefore !== undefined) value.notBefore = new Date(parseIsoDateTime(data.notBefore)!).toISOString();
  return { ok: true, value };
}

/** http to a loopback host passes the shape check; it is refused here unless the local run allows it. */
function localCallbackErrors(body: Record<string, unknown>, options: ParseOptions): FieldError[] {
  const value = body.callbackUrl;
  if (typeof value !== 'string' || options.allowLoopbackHttpCallback || !/^http:/i.test(value)) return [];
  // Any other problem (e.g. http to a remote host) already has its one error from the shape check.
  if (callbackUrlProblem(value) !== undefined) return [];
  return [
    {
      path: 'callbackUrl',
      message:
        'callbackUrl must be an absolute https:// URL; http to localhost is allowed only in the local run (ALLOW_LOCALHOST_CALLBACKS=true)',
    },
  ];
}

type CompactRequest = z.infer<typeof CompactRequestSchema>;

/**
 * The input minus the service fields, keys in the order given (a deep copy: nothing aliases the input).
 * A null topic is left out: it means no topic, and Graph refuses a topic on a 1:1 chat.
 */
function graphBodyFromGraphForm(body: JsonObject): GraphCreateChatBody {
  const copy: JsonObject = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'topic' && value === null) continue;
    if (!(SERVICE_FIELDS as readonly string[]).includes(key)) copy[key] = structuredClone(value);
  }
  return copy as unknown as GraphCreateChatBody;
}

function graphBodyFromCompactForm(data: CompactRequest, root: string): GraphCreateChatBody {
  const members = data.members.map((item): GraphMember => {
    const member = typeof item === 'string' ? { user: item } : item;
    const out: GraphMember = {
      '@odata.type': MEMBER_ODATA_TYPE,
      roles: [member.role ?? 'owner'],
      'user@odata.bind': bindForUser(member.user, root),
    };
    if (member.tenantId !== undefined) out.tenantId = member.tenantId;
    return out;
  });
  // Key order as in Graph's examples: chatType, topic, members, installedApps.
  const body: GraphCreateChatBody =
    data.topic === undefined || data.topic === null
      ? { chatType: data.chatType, members }
      : { chatType: data.chatType, topic: data.topic, members };
  if (data.apps !== undefined) {
    body.installedApps = data.apps.map((app): GraphInstalledApp => {
      const out: GraphInstalledApp = { 'teamsApp@odata.bind': bindForApp(app.teamsAppId, root) };
      if (app.rscPermissions !== undefined) {
        out.consentedPermissionSet = {
          resourceSpecificPermissions: app.rscPermissions.map((p) =>
            typeof p === 'string' ? { permissionValue: p, permissionType: 'application' } : { ...p },
          ),
        };
      }
      return out;
    });
  }
  return body;
}

/** The resource view (members, apps, chatType, topic) of a valid canonical Graph body. */
function resourceView(graphBody: GraphCreateChatBody): Pick<ParsedRequest, 'members' | 'apps' | 'chatType' | 'topic'> {
  const view: Pick<ParsedRequest, 'members' | 'apps' | 'chatType' | 'topic'> = {
    chatType: graphBody.chatType,
    members: graphBody.members.map((m) => {
      const member: Member = { user: userFromBind(m['user@odata.bind']) ?? '', role: m.roles[0] as Member['role'] };
      if (m.tenantId !== undefined) member.tenantId = m.tenantId;
      return member;
    }),
  };
  if (graphBody.topic !== undefined) view.topic = graphBody.topic;
  if (graphBody.installedApps !== undefined) {
    view.apps = graphBody.installedApps.map((a) => {
      const app: App = { teamsAppId: appIdFromBind(a['teamsApp@odata.bind']) ?? '' };
      const permissions = a.consentedPermissionSet?.resourceSpecificPermissions;
      if (permissions !== undefined) {
        app.rscPermissions = permissions.map((p) => ({
          permissionValue: p.permissionValue,
          permissionType: p.permissionType as 'application' | 'delegated',
        }));
      }
      return app;
    });
  }
  return view;
}

// ---------------------------------------------------------------------------------------------
// Payload hash.

/** JSON with object keys sorted at every level, so key order never changes the text. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => stableStringify(v === undefined ? null : v)).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function instant(value: unknown): string | undefined {
  const at = typeof value === 'string' ? parseIsoDateTime(value) : undefined;
  return at === undefined ? undefined : new Date(at).toISOString();
}

/**
 * sha256 of what the request means: the chat (type, topic, members as a set with case-insensitive ids,
 * apps with their permissions as a set, members' visibleHistoryStartDateTime) and the service fields.
 * Form, key order, member order, bind form (users('x') or users/x, v1.0 or beta), a null topic and the
 * offsets of date-times do not change it.
 */
export function payloadHash(value: ParsedRequest): string {
  const members = value.members
    .map((m, i) => ({
      user: m.user.toLowerCase(),
      role: m.role,
      tenantId: m.tenantId?.toLowerCase(),
      // Absent (and so left out of the text) unless given: the hash of every other body stays what it was.
      visibleHistoryStartDateTime: instant(value.graphBody.members[i]?.visibleHistoryStartDateTime),
    }))
    .sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
  const apps = value.apps?.map((a) => ({
    teamsAppId: a.teamsAppId.toLowerCase(),
    rscPermissions: a.rscPermissions?.map((p) => `${p.permissionType}:${p.permissionValue}`).sort(),
  }));
  let callbackUrl = value.callbackUrl;
  if (callbackUrl !== undefined && URL.canParse(callbackUrl)) callbackUrl = new URL(callbackUrl).href;
  const meaning = {
    v: 1,
    chat: { chatType: value.chatType, topic: value.topic, members, apps },
    externalId: value.externalId,
    callbackUrl,
    notBefore: value.notBefore,
  };
  return createHash('sha256').update(stableStringify(meaning)).digest('hex');
}
