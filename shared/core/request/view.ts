import type { App, GraphCreateChatBody, Member } from '../model';
import { appIdFromBind, userFromBind } from './binds';
import type { ParsedRequest } from './parsed';

/** The resource view (members, apps, chatType, topic) of a valid canonical Graph body. */
export function resourceView(
  graphBody: GraphCreateChatBody,
): Pick<ParsedRequest, 'members' | 'apps' | 'chatType' | 'topic'> {
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
