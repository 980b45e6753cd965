import type { GraphCreateChatBody, GraphInstalledApp, GraphMember } from '../model';
import { bindForApp, bindForUser } from './binds';
import { MEMBER_ODATA_TYPE, SERVICE_FIELDS } from './fields';
import type { JsonObject } from './json';
import type { CompactRequest } from './schemas';

/** The canonical Graph create-chat body built from a valid request of either form. */

/**
 * The input minus the service fields, keys in the order given (a deep copy: nothing aliases the input).
 * A null topic is left out: it means no topic, and Graph refuses a topic on a 1:1 chat.
 */
export function graphBodyFromGraphForm(body: JsonObject): GraphCreateChatBody {
  const copy: JsonObject = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'topic' && value === null) continue;
    if (!(SERVICE_FIELDS as readonly string[]).includes(key)) copy[key] = structuredClone(value);
  }
  return copy as unknown as GraphCreateChatBody;
}

export function graphBodyFromCompactForm(data: CompactRequest, root: string): GraphCreateChatBody {
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
