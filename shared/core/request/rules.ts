import { bindHost, GRAPH_HOSTS, graphCloudHost, userFromBind } from './binds';
import { parseIsoDateTime } from './date-time';
import { callbackUrlProblem, type FieldError, MAX_APPS, MAX_MEMBERS, MAX_MEMBERS_AT_CREATE } from './fields';
import type { Form } from './form';
import { isObject, type JsonObject } from './json';
import type { ParseOptions } from './parsed';
import { show } from './text';

/**
 * Rules that span fields (counts, duplicates, topic on 1:1, federated roles, the bind's cloud, notBefore
 * vs now). They run on the raw input, beside the schemas, so every problem is reported even when some
 * shapes are wrong.
 */

/** The user a raw member names (either form), for duplicate checks; undefined when it names none. */
function userOfRawMember(item: unknown): string | undefined {
  if (typeof item === 'string') return item;
  if (!isObject(item)) return undefined;
  if (typeof item['user@odata.bind'] === 'string') return userFromBind(item['user@odata.bind']);
  if (typeof item.user === 'string') return item.user;
  return undefined;
}

/** Rules across fields, run on the raw input so they report even when some shapes are wrong. */
export function crossFieldErrors(body: JsonObject, form: Form, now: Date, options: ParseOptions): FieldError[] {
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

/** http to a loopback host passes the shape check; it is refused here unless the local run allows it. */
export function localCallbackErrors(body: Record<string, unknown>, options: ParseOptions): FieldError[] {
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
