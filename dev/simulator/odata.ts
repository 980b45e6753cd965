/** OData pieces Graph uses in this API: key segments, bind URLs, and the small $filter grammar we accept. Pure. */

/** One path segment: `chats`, `chats('19:...')` gives `{name:'chats', key:'19:...'}`. */
export interface PathSegment {
  name: string;
  key?: string;
}

/** OData string literals double a quote to escape it. */
export function unescapeODataString(value: string): string {
  return value.replace(/''/g, "'");
}

export function escapeODataString(value: string): string {
  return value.replace(/'/g, "''");
}

/**
 * Splits a URL path (without query) into segments, decoding each one; a key in parentheses
 * (`chats('id')`) becomes the segment's key, a plain key (`chats/id`) stays a segment of its own.
 */
export function parseResourcePath(path: string): PathSegment[] | undefined {
  const segments: PathSegment[] = [];
  for (const raw of path.split('/').filter((s) => s.length > 0)) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    const keyed = /^([A-Za-z0-9_.$]+)\('((?:[^']|'')*)'\)$/.exec(decoded);
    if (keyed) segments.push({ name: keyed[1] ?? '', key: unescapeODataString(keyed[2] ?? '') });
    else segments.push({ name: decoded });
  }
  return segments;
}

// users('<id or UPN>') as in the create-chat docs, or users/<id or UPN> as in the add-member docs; in the
// second a "#" would start a URL fragment, so it cannot be there.
const USER_BIND = /^https:\/\/graph\.microsoft\.com\/v1\.0\/users(?:\('((?:[^']|'')+)'\)|\/([^/?#]+))$/;
const APP_BIND =
  /^https:\/\/graph\.microsoft\.com\/(?:v1\.0|beta)\/appCatalogs\/teamsApps(?:\/([^/'()]+)|\('((?:[^']|'')+)'\))$/;

/** `https://graph.microsoft.com/v1.0/users('<id or UPN>')` (or `users/<id or UPN>`) gives the id or UPN. */
export function parseUserBind(bind: string): string | undefined {
  const match = USER_BIND.exec(bind);
  if (!match) return undefined;
  return match[1] !== undefined ? unescapeODataString(match[1]) : match[2];
}

/** `https://graph.microsoft.com/{v1.0|beta}/appCatalogs/teamsApps/<id>` (or `teamsApps('<id>')`) gives the id. */
export function parseTeamsAppBind(bind: string): string | undefined {
  const match = APP_BIND.exec(bind);
  if (!match) return undefined;
  if (match[1] !== undefined) return match[1];
  return match[2] === undefined ? undefined : unescapeODataString(match[2]);
}

export type Comparison = 'eq' | 'ne' | 'ge' | 'gt' | 'le' | 'lt';

export type ChatFilterClause =
  | { field: 'createdDateTime' | 'lastUpdatedDateTime'; op: Comparison; value: number }
  | { field: 'chatType' | 'topic'; op: 'eq' | 'ne'; value: string };

export type FilterParse = { ok: true; clauses: ChatFilterClause[] } | { ok: false; message: string };

/** Splits on ` and ` outside quoted literals. */
function splitConjunction(expression: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < expression.length; i += 1) {
    const ch = expression[i] ?? '';
    if (ch === "'") quoted = !quoted;
    if (!quoted && /^\s+and\s+/i.test(expression.slice(i)) && current.trim().length > 0) {
      parts.push(current.trim());
      current = '';
      i += (/^\s+and\s+/i.exec(expression.slice(i))?.[0].length ?? 1) - 1;
      continue;
    }
    current += ch;
  }
  if (current.trim().length > 0) parts.push(current.trim());
  return parts;
}

/** The `$filter` subset that `GET /users/{id}/chats` needs: dates, chatType and topic joined by `and`. */
export function parseChatFilter(expression: string): FilterParse {
  const clauses: ChatFilterClause[] = [];
  for (const part of splitConjunction(expression)) {
    const date = /^(createdDateTime|lastUpdatedDateTime)\s+(eq|ne|ge|gt|le|lt)\s+'?([0-9T:.+\-Z]+)'?$/i.exec(part);
    if (date) {
      const value = Date.parse(date[3] ?? '');
      if (Number.isNaN(value)) return { ok: false, message: `Invalid DateTimeOffset literal in filter: '${date[3]}'.` };
      const field = (date[1] ?? '').toLowerCase() === 'createddatetime' ? 'createdDateTime' : 'lastUpdatedDateTime';
      clauses.push({ field, op: (date[2] ?? 'eq').toLowerCase() as Comparison, value });
      continue;
    }
    const text = /^(chatType|topic)\s+(eq|ne)\s+'((?:[^']|'')*)'$/i.exec(part);
    if (text) {
      const field = (text[1] ?? '').toLowerCase() === 'chattype' ? 'chatType' : 'topic';
      clauses.push({
        field,
        op: (text[2] ?? 'eq').toLowerCase() as 'eq' | 'ne',
        value: unescapeODataString(text[3] ?? ''),
      });
      continue;
    }
    return { ok: false, message: `Invalid filter clause: '${part}'.` };
  }
  if (clauses.length === 0) return { ok: false, message: 'Invalid filter clause: empty expression.' };
  return { ok: true, clauses };
}

function compare(actual: number | string, op: Comparison, expected: number | string): boolean {
  switch (op) {
    case 'eq':
      return actual === expected;
    case 'ne':
      return actual !== expected;
    case 'ge':
      return actual >= expected;
    case 'gt':
      return actual > expected;
    case 'le':
      return actual <= expected;
    case 'lt':
      return actual < expected;
  }
}

export interface FilterableChat {
  chatType: string;
  topic: string | null;
  createdAtMs: number;
  lastUpdatedAtMs: number;
}

export function matchesChatFilter(chat: FilterableChat, clauses: readonly ChatFilterClause[]): boolean {
  return clauses.every((clause) => {
    switch (clause.field) {
      case 'createdDateTime':
        return compare(chat.createdAtMs, clause.op, clause.value);
      case 'lastUpdatedDateTime':
        return compare(chat.lastUpdatedAtMs, clause.op, clause.value);
      case 'chatType':
        return compare(chat.chatType, clause.op, clause.value);
      case 'topic':
        return compare(chat.topic ?? '', clause.op, clause.value);
    }
  });
}
