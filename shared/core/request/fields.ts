import { isLoopbackHost } from '../../platform/config';
import { USER_PATH_BIND_WITH_HASH, userFromBind } from './binds';
import { describeChar, show } from './text';

/**
 * The limits of a request and the checks of single fields, shared by the schemas and the cross-field rules.
 */

export interface FieldError {
  /** Where the problem is, e.g. `members[2].roles[0]` or `topic`; `""` for the body itself. */
  path: string;
  message: string;
}

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

export const MEMBER_ODATA_TYPE = '#microsoft.graph.aadUserConversationMember';
export const CHAT_ODATA_TYPE = '#microsoft.graph.chat';
export const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * The first character an object id or UPN cannot hold, if any. `#` is allowed: guests' UPNs hold `#EXT#`.
 * Invisible formatting characters (Cf) are refused: in a user name they can only be a mistake or spoofing
 * (a right-to-left override makes one address read as another).
 */
function forbiddenUserChar(user: string): string | undefined {
  return /[/\\?\s\p{Z}\p{Cc}\p{Cs}\p{Cf}]/u.exec(user)?.[0];
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

export function teamsAppIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'is empty; give the app’s id in the Teams app catalog';
  const bad = /[/?#\s\p{Z}\p{Cc}\p{Cs}]/u.exec(id)?.[0];
  if (bad !== undefined)
    return `${show(id)} contains ${describeChar(bad)}; a Teams app id cannot hold /, ?, #, whitespace or control characters`;
  return undefined;
}

export function callbackUrlProblem(value: string): string | undefined {
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

/** Why a user bind cannot be taken, if it cannot. */
export function userBindProblem(bind: string): string | undefined {
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
