import { Directory } from './directory';
import { parseTeamsAppBind, parseUserBind } from './odata';

/** The rules Graph and Teams apply to `POST /chats` (sources in dev/simulator/README.md). Pure apart from directory lookups. */

export const MAX_GROUP_MEMBERS = 250;
/** Teams adds at most 200 people at a time, and creating a chat is such an addition (it may grow to 250 later). */
export const MAX_MEMBERS_PER_ADD = 200;
export const MAX_TOPIC_LENGTH = 250;
const MEMBER_TYPE = 'microsoft.graph.aadUserConversationMember';
const CHAT_PROPERTIES = new Set([
  '@odata.type',
  'id',
  'topic',
  'chatType',
  'createdDateTime',
  'lastUpdatedDateTime',
  'tenantId',
  'webUrl',
  'onlineMeetingInfo',
  'viewpoint',
  'isHiddenForAllMembers',
  'members',
  'installedApps',
]);
const MEMBER_PROPERTIES = new Set([
  '@odata.type',
  'roles',
  'user@odata.bind',
  'tenantId',
  'userId',
  'email',
  'displayName',
  'visibleHistoryStartDateTime',
]);
const APP_PROPERTIES = new Set(['@odata.type', 'teamsApp@odata.bind', 'consentedPermissionSet']);

/** Teams apps in the simulated tenant catalog: the ids of the docs' examples (the odd short one included). */
export const DOC_TEAMS_APP_IDS = [
  '05F59CEC-A742-4A50-A62E-202A57E478A4',
  '8e55a7b1-6766-4f0a-8610-ecacfe3d569a',
  '12345678-9abc-def0-123456789a',
] as const;

export class AppCatalog {
  private readonly ids = new Set<string>();

  constructor() {
    this.reset();
  }

  reset(): void {
    this.ids.clear();
    for (const id of DOC_TEAMS_APP_IDS) this.ids.add(id.toLowerCase());
  }

  add(id: string): void {
    this.ids.add(id.toLowerCase());
  }

  has(id: string): boolean {
    return this.ids.has(id.toLowerCase());
  }

  list(): string[] {
    return [...this.ids];
  }
}

export type ChatType = 'oneOnOne' | 'group';
export type MemberRole = 'owner' | 'guest';

export interface ChatMemberSpec {
  userId: string;
  tenantId: string;
  roles: MemberRole[];
  /** The user's mail (Graph's `email` on a chat member), not the UPN the caller named; null without a mailbox. */
  email: string | null;
  displayName: string;
}

export interface ResourceSpecificPermission {
  permissionValue: string;
  permissionType: 'application' | 'delegated';
}

export interface AppInstallSpec {
  teamsAppId: string;
  resourceSpecificPermissions: ResourceSpecificPermission[];
}

export interface CreateChatCommand {
  chatType: ChatType;
  topic: string | null;
  members: ChatMemberSpec[];
  app?: AppInstallSpec;
}

export interface RuleViolation {
  status: 400 | 403 | 404;
  code: 'BadRequest' | 'Forbidden' | 'NotFound';
  message: string;
}

export type CreateChatCheck = { ok: true; command: CreateChatCommand } | { ok: false; violation: RuleViolation };

const badRequest = (message: string): CreateChatCheck => ({
  ok: false,
  violation: { status: 400, code: 'BadRequest', message },
});

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function unknownProperty(value: Record<string, unknown>, allowed: Set<string>, type: string): string | undefined {
  const extra = Object.keys(value).find((k) => !allowed.has(k) && !k.endsWith('@odata.type'));
  return extra === undefined
    ? undefined
    : `The property '${extra}' does not exist on type '${type}'. Make sure to only use property names that are defined by the type or mark the type as open type.`;
}

interface MemberDraft {
  reference: string;
  tenantId: string | undefined;
  role: MemberRole;
}

function checkMember(value: unknown, index: number): MemberDraft | string {
  if (!isObject(value)) return `Member ${index} must be an object.`;
  const extra = unknownProperty(value, MEMBER_PROPERTIES, MEMBER_TYPE);
  if (extra) return extra;
  const type = value['@odata.type'];
  if (typeof type !== 'string' || type.replace(/^#/, '') !== MEMBER_TYPE) {
    return `The member type '${String(type ?? '')}' is not supported; members must be '#${MEMBER_TYPE}'.`;
  }
  const roles = value.roles;
  if (!Array.isArray(roles) || roles.length === 0) return "Each member must be assigned a role of 'owner' or 'guest'.";
  for (const role of roles) {
    if (role !== 'owner' && role !== 'guest') return `The passed-in role '${String(role)}' is not supported.`;
  }
  if (roles.length > 1) return "A member can have only one role: 'owner' or 'guest'.";
  const bind = value['user@odata.bind'];
  if (typeof bind !== 'string') return "Member is missing the 'user@odata.bind' property.";
  const reference = parseUserBind(bind);
  if (reference === undefined) {
    return `Invalid value for 'user@odata.bind': '${bind}'. Expected https://graph.microsoft.com/v1.0/users('<id or userPrincipalName>') or .../users/<id>.`;
  }
  const tenantId = value.tenantId;
  if (tenantId !== undefined && typeof tenantId !== 'string') return "Member 'tenantId' must be a string.";
  return { reference, tenantId, role: roles[0] as MemberRole };
}

function checkApp(value: unknown, catalog: AppCatalog): AppInstallSpec | CreateChatCheck {
  if (!isObject(value)) return badRequest('Each installedApps entry must be an object.');
  const extra = unknownProperty(value, APP_PROPERTIES, 'microsoft.graph.teamsAppInstallation');
  if (extra) return badRequest(extra);
  const bind = value['teamsApp@odata.bind'];
  const appId = typeof bind === 'string' ? parseTeamsAppBind(bind) : undefined;
  if (appId === undefined) {
    return badRequest(
      `Invalid value for 'teamsApp@odata.bind': '${String(bind ?? '')}'. Expected https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/<id>.`,
    );
  }
  // Graph answers an app id its catalog does not have with 404 NotFound and "…non existent App definition" (as
  // real callers report for app installs): the same status as a member not found, which callers must tell apart.
  if (!catalog.has(appId)) {
    return {
      ok: false,
      violation: {
        status: 404,
        code: 'NotFound',
        message: `User is trying to create a chat entitlement for a non existent App definition '${appId}'.`,
      },
    };
  }
  const permissions: ResourceSpecificPermission[] = [];
  const set = value.consentedPermissionSet;
  if (set !== undefined && set !== null) {
    const list = isObject(set) ? set.resourceSpecificPermissions : undefined;
    if (!Array.isArray(list))
      return badRequest("'consentedPermissionSet.resourceSpecificPermissions' must be an array.");
    for (const p of list) {
      if (!isObject(p) || typeof p.permissionValue !== 'string' || p.permissionValue.length === 0) {
        return badRequest('Each resource-specific permission needs a permissionValue.');
      }
      if (p.permissionType !== 'application' && p.permissionType !== 'delegated') {
        return badRequest(`The permissionType '${String(p.permissionType)}' is not supported.`);
      }
      permissions.push({ permissionValue: p.permissionValue, permissionType: p.permissionType });
    }
  }
  return { teamsAppId: appId, resourceSpecificPermissions: permissions };
}

/** Checks a create-chat body and resolves its members; the first problem found is the answer, as Graph does. */
export function checkCreateChat(
  body: unknown,
  directory: Directory,
  catalog: AppCatalog,
  now: number,
): CreateChatCheck {
  if (!isObject(body)) return badRequest('The request body must be a JSON object representing a chat.');
  const extra = unknownProperty(body, CHAT_PROPERTIES, 'microsoft.graph.chat');
  if (extra) return badRequest(extra);

  const chatType = body.chatType;
  if (chatType === 'meeting') {
    return badRequest(
      "Chats of type 'meeting' cannot be created with this API; a meeting chat is created with its online meeting.",
    );
  }
  if (chatType !== 'oneOnOne' && chatType !== 'group') {
    return badRequest(
      `The chat type '${String(chatType ?? '')}' is not supported. Supported values: 'oneOnOne', 'group'.`,
    );
  }

  const topic = body.topic;
  if (topic !== undefined && topic !== null) {
    if (typeof topic !== 'string') return badRequest("'topic' must be a string.");
    if (chatType === 'oneOnOne') return badRequest('Setting topic is not allowed for 1-on-1 chats');
    if (topic.length > MAX_TOPIC_LENGTH)
      return badRequest(`The topic cannot be longer than ${MAX_TOPIC_LENGTH} characters.`);
    if (topic.includes(':')) return badRequest("The topic cannot contain the character ':'.");
  }

  const members = body.members;
  if (!Array.isArray(members) || members.length === 0) return badRequest('The chat must have members.');
  const drafts: MemberDraft[] = [];
  for (const [index, member] of members.entries()) {
    const draft = checkMember(member, index);
    if (typeof draft === 'string') return badRequest(draft);
    drafts.push(draft);
  }
  if (chatType === 'oneOnOne' && drafts.length !== 2) {
    return badRequest(`A one-on-one chat must have exactly 2 members; ${drafts.length} were given.`);
  }
  if (chatType === 'group' && drafts.length < 2) return badRequest('A group chat must have at least 2 members.');
  if (chatType === 'group' && drafts.length > MAX_MEMBERS_PER_ADD) {
    return badRequest(
      `Cannot add more than ${MAX_MEMBERS_PER_ADD} members to a chat at a time; ${drafts.length} were given.`,
    );
  }

  let app: AppInstallSpec | undefined;
  const apps = body.installedApps;
  if (apps !== undefined && apps !== null) {
    if (!Array.isArray(apps)) return badRequest("'installedApps' must be an array.");
    if (apps.length > 1) return badRequest('Only one app installation is supported when creating a chat.');
    if (apps.length === 1) {
      const checked = checkApp(apps[0], catalog);
      if ('ok' in checked) return checked;
      app = checked;
    }
  }

  return resolveMembers(drafts, directory, now, chatType, typeof topic === 'string' ? topic : null, app);
}

function resolveMembers(
  drafts: MemberDraft[],
  directory: Directory,
  now: number,
  chatType: ChatType,
  topic: string | null,
  app: AppInstallSpec | undefined,
): CreateChatCheck {
  const missingUpns: string[] = [];
  const missingIds: string[] = [];
  let forbidden: RuleViolation | undefined;
  const resolved: ChatMemberSpec[] = [];
  for (const draft of drafts) {
    const lookup = directory.resolve(draft.reference, draft.tenantId, now);
    if (lookup.kind === 'notFound') {
      (draft.reference.includes('@') ? missingUpns : missingIds).push(draft.reference);
      continue;
    }
    if (lookup.kind === 'notFederated') {
      forbidden ??= {
        status: 403,
        code: 'Forbidden',
        message: `The tenant '${lookup.tenantId}' is not federated with this organization; its users cannot be added to chats.`,
      };
      continue;
    }
    if (lookup.kind === 'unlicensed') {
      forbidden ??= {
        status: 403,
        code: 'Forbidden',
        message: 'Failed to get license information for the user. Ensure user has a valid Office365 license.',
      };
      continue;
    }
    const user = lookup.user;
    if (user.guest && draft.role !== 'guest') {
      return badRequest(`In-tenant guest user '${user.id}' must be assigned the 'guest' role.`);
    }
    if (user.federated && draft.role !== 'owner') {
      return badRequest(`Out-of-tenant external user '${user.id}' must be assigned the 'owner' role.`);
    }
    resolved.push({
      userId: user.id,
      tenantId: user.tenantId,
      roles: [draft.role],
      email: user.mail,
      displayName: user.displayName,
    });
  }
  if (missingUpns.length > 0 || missingIds.length > 0) {
    const parts = [
      ...(missingUpns.length > 0 ? [`user principal name ${missingUpns.join(', ')}`] : []),
      ...(missingIds.length > 0 ? [`id ${missingIds.join(', ')}`] : []),
    ];
    return {
      ok: false,
      violation: { status: 404, code: 'NotFound', message: `Failed to find users with ${parts.join(' and ')}.` },
    };
  }
  if (forbidden) return { ok: false, violation: forbidden };
  const seen = new Set<string>();
  for (const member of resolved) {
    const key = member.userId.toLowerCase();
    if (seen.has(key)) return badRequest(`The same user cannot be a member twice: '${member.userId}'.`);
    seen.add(key);
  }
  return {
    ok: true,
    command: { chatType, topic: chatType === 'group' ? topic : null, members: resolved, ...(app ? { app } : {}) },
  };
}
