import { createHash } from 'node:crypto';
import { parseIsoDateTime } from './date-time';
import { isObject } from './json';
import type { ParsedRequest } from './parsed';

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
