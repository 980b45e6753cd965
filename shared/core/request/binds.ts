/**
 * Graph's OData binds for users and apps: writing them and reading them back. Used by the worker on
 * every message, so this module imports nothing (no zod, no SDK) and stays cheap to load.
 */

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

export const GRAPH_HOST = GRAPH_HOSTS.map((h) => h.replace(/\./g, '\\.')).join('|');
// users('<key>'): the OData key literal, quotes inside doubled, so the text between the outer quotes never
// holds a lone '. users/<key>: a URL path segment, so it cannot hold /, ? or # (# would start a fragment).
const USER_BIND = new RegExp(`^https://(${GRAPH_HOST})/(?:v1\\.0|beta)/users(?:\\('((?:[^']|'')*)'\\)|/([^/?#]+))$`);
// The users/<key> form with a # in the key: well meant (a guest's #EXT# UPN) but cut short by the fragment.
export const USER_PATH_BIND_WITH_HASH = new RegExp(`^https://(?:${GRAPH_HOST})/(?:v1\\.0|beta)/users/([^/?]*#[^/?]*)$`);
const APP_BIND = new RegExp(`^https://(${GRAPH_HOST})/(?:v1\\.0|beta)/appCatalogs/teamsApps/([^/]*)$`);

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
export function bindHost(bind: string): string | undefined {
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
