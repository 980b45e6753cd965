import { GRAPH_JSON, SimAnswer } from './answer';
import { AppCatalog, checkCreateChat } from './chat-rules';
import { ChatStore, StoredChat, StoredOperation } from './chat-store';
import { Directory } from './directory';
import { applicationOnlyRefusal, graphError, graphHeaders, RequestIds } from './graph-errors';
import { matchesChatFilter, parseChatFilter, PathSegment } from './odata';
import { OperationFate, OperationTimings, visibleEnumValue } from './operations';

/** Graph's chat endpoints: create, get, poll the async operation, list a user's chats. */

export const MAX_PAGE_SIZE = 50;
export const MAX_EXPANDED_MEMBERS = 25;
const DEFAULT_PAGE_SIZE = 50;

export interface GraphCall {
  method: string;
  version: 'v1.0' | 'beta';
  /** Path segments after the version. */
  segments: PathSegment[];
  /** The request path without query, to build nextLinks from. */
  pathname: string;
  query: URLSearchParams;
  body: unknown;
  /** Tokens of the Prefer header(s), lower-cased. */
  prefer: string[];
  ids: RequestIds;
  seq: number;
  now: number;
  origin: string;
}

export interface ChatEndpointsDeps {
  directory: Directory;
  catalog: AppCatalog;
  store: ChatStore;
  operationTimings(): OperationTimings;
  defaultOperationFate(): OperationFate;
  createdDateTimeFilter(): 'accepted' | 'refused';
}

/** A resolved route; the gateway checks app roles before running it. */
export interface ChatRoute {
  requiredRoles: readonly string[];
  /** The answer when the token has none of the roles, where the service behind the route words it its own way. */
  forbidden?: { code: string; message: string };
  run(): SimAnswer;
}

const READ_ROLES = ['Chat.ReadBasic.All', 'Chat.Read.All', 'Chat.ReadWrite.All'] as const;
const CREATE_ROLES = ['Chat.Create', 'Chat.ReadWrite.All'] as const;
/** Application permissions that can read a user by id or UPN (least privileged first). */
const USER_READ_ROLES = [
  'User.ReadBasic.All',
  'User.Read.All',
  'User.ReadWrite.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
] as const;
/** Properties `GET /users/{id}` returns without `$select` (Graph's default set) and the ones `$select` may name. */
const USER_DEFAULT_PROPERTIES = [
  'businessPhones',
  'displayName',
  'givenName',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
  'id',
] as const;
const USER_SELECTABLE = new Set<string>([...USER_DEFAULT_PROPERTIES, 'userType', 'accountEnabled']);
/** OData's names for the comparison operators, as Graph's $filter errors spell them. */
const OPERATION_KIND: Record<string, string> = {
  eq: 'Equal',
  ne: 'NotEqual',
  gt: 'GreaterThan',
  ge: 'GreaterThanOrEqual',
  lt: 'LessThan',
  le: 'LessThanOrEqual',
};
const NAVIGATIONS = new Set(['chats', 'operations', 'users']);

/** Turns `chats/{id}` into the keyed form `chats('{id}')`, so both spellings route the same. */
function keyedSegments(segments: PathSegment[]): PathSegment[] {
  const out: PathSegment[] = [];
  for (let i = 0; i < segments.length; i += 1) {
    const segment = segments[i] as PathSegment;
    const next = segments[i + 1];
    if (
      segment.key === undefined &&
      NAVIGATIONS.has(segment.name) &&
      next &&
      next.key === undefined &&
      !NAVIGATIONS.has(next.name)
    ) {
      out.push({ name: segment.name, key: next.name });
      i += 1;
    } else out.push(segment);
  }
  return out;
}

function ok(status: number, ids: RequestIds, body?: unknown, headers: Record<string, string> = {}): SimAnswer {
  return { status, headers: { 'content-type': GRAPH_JSON, ...graphHeaders(ids), ...headers }, body };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function chatResource(chat: StoredChat, version: string): Record<string, unknown> {
  return {
    '@odata.context': `https://graph.microsoft.com/${version}/$metadata#chats/$entity`,
    ...chatFields(chat),
  };
}

function chatFields(chat: StoredChat): Record<string, unknown> {
  return {
    id: chat.id,
    topic: chat.topic,
    createdDateTime: iso(chat.createdAtMs),
    lastUpdatedDateTime: iso(chat.lastUpdatedAtMs),
    chatType: chat.chatType,
    webUrl: chat.webUrl,
    tenantId: chat.tenantId,
    isHiddenForAllMembers: false,
    onlineMeetingInfo: null,
  };
}

function memberResource(chat: StoredChat, member: StoredChat['members'][number]): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.aadUserConversationMember',
    id: Buffer.from(`1#${chat.id}#${member.userId}`).toString('base64'),
    roles: member.roles,
    displayName: member.displayName,
    visibleHistoryStartDateTime: '0001-01-01T00:00:00Z',
    userId: member.userId,
    // The mail address, not the UPN; null when the user has none.
    email: member.email,
    tenantId: member.tenantId,
  };
}

function operationResource(operation: StoredOperation, status: string, version: string, includeUnknown: boolean) {
  return {
    '@odata.context': `https://graph.microsoft.com/${version}/$metadata#chats('${operation.chatId}')/operations/$entity`,
    id: operation.id,
    operationType: visibleEnumValue('createChat', 'operationType', includeUnknown),
    createdDateTime: iso(operation.createdAtMs),
    status: visibleEnumValue(status, 'status', includeUnknown),
    lastActionDateTime: iso(operation.lastActionAtMs),
    attemptsCount: 1,
    targetResourceId: operation.chatId,
    targetResourceLocation: `/chats('${operation.chatId}')`,
    error: operation.fate.kind === 'failed' && status === 'failed' ? operation.fate.error : null,
  };
}

/** The route for a Graph call under /v1.0 or /beta, or an answer when there is none. */
export function routeChatCall(call: GraphCall, deps: ChatEndpointsDeps): ChatRoute | SimAnswer {
  const s = keyedSegments(call.segments);
  const [first, second, third] = s;
  const method = call.method;
  const notAllowed = (): SimAnswer =>
    graphError(405, 'BadRequest', `The HTTP method '${method}' is not allowed on this resource.`, call.ids);
  if (first?.name === 'chats' && first.key === undefined && s.length === 1) {
    if (method === 'POST') return { requiredRoles: CREATE_ROLES, run: () => createChat(call, deps) };
    // Listing "my" chats needs a signed-in user; Teams refuses app-only callers with 412, not 400 or 403.
    if (method === 'GET') return applicationOnlyRefusal(call.ids);
    return notAllowed();
  }
  if (first?.name === 'chats' && first.key !== undefined && s.length === 1) {
    if (method !== 'GET') return notAllowed();
    return { requiredRoles: READ_ROLES, run: () => getChat(first.key as string, call, deps) };
  }
  if (
    first?.name === 'chats' &&
    first.key !== undefined &&
    second?.name === 'operations' &&
    second.key !== undefined &&
    s.length === 2
  ) {
    // Chat operations are a beta navigation: v1.0's chat has no `operations`, and Graph's router says so.
    if (call.version !== 'beta') return unknownSegment('operations', call.ids);
    if (method !== 'GET') return notAllowed();
    return {
      requiredRoles: READ_ROLES,
      run: () => getOperation(first.key as string, second.key as string, call, deps),
    };
  }
  if (
    first?.name === 'users' &&
    first.key !== undefined &&
    second?.name === 'chats' &&
    second.key === undefined &&
    !third
  ) {
    if (method !== 'GET') return notAllowed();
    return { requiredRoles: READ_ROLES, run: () => listUserChats(first.key as string, call, deps) };
  }
  if (first?.name === 'users' && first.key !== undefined && s.length === 1) {
    if (method !== 'GET') return notAllowed();
    return {
      requiredRoles: USER_READ_ROLES,
      // The directory's own wording, not the Teams one.
      forbidden: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' },
      run: () => getUser(first.key as string, call, deps),
    };
  }
  const unknown = s.find((seg) => !['chats', 'operations', 'users'].includes(seg.name)) ?? s[s.length - 1];
  return unknownSegment(unknown?.name ?? '', call.ids);
}

/** What Graph's OData router answers for a path segment the version's schema does not have. */
function unknownSegment(name: string, ids: RequestIds): SimAnswer {
  return graphError(400, 'BadRequest', `Resource not found for the segment '${name}'.`, ids);
}

function createChat(call: GraphCall, deps: ChatEndpointsDeps): SimAnswer {
  const check = checkCreateChat(call.body, deps.directory, deps.catalog, call.now);
  if (!check.ok) return graphError(check.violation.status, check.violation.code, check.violation.message, call.ids);
  const command = check.command;
  if (command.app) {
    const operation = deps.store.startOperation(
      { ...command, app: command.app },
      call.seq,
      call.now,
      deps.defaultOperationFate(),
    );
    // Exactly as the docs show: relative, no host and no version; Content-Type set though the body is empty.
    return ok(202, call.ids, undefined, {
      location: `/chats('${operation.chatId}')/operations('${operation.id}')`,
      'content-length': '0',
    });
  }
  const { chat } = deps.store.create(command, call.seq, call.now);
  return ok(201, call.ids, chatResource(chat, call.version));
}

function getChat(chatId: string, call: GraphCall, deps: ChatEndpointsDeps): SimAnswer {
  const chat = deps.store.get(chatId);
  if (!chat) return graphError(404, 'NotFound', `Chat '${chatId}' was not found.`, call.ids);
  return ok(200, call.ids, chatResource(chat, call.version));
}

function getOperation(chatId: string, opId: string, call: GraphCall, deps: ChatEndpointsDeps): SimAnswer {
  const polled = deps.store.poll(chatId, opId, call.now, deps.operationTimings());
  if (!polled || polled.view.kind === 'vanished') {
    return graphError(404, 'NotFound', `The operation '${opId}' was not found for chat '${chatId}'.`, call.ids);
  }
  const includeUnknown = call.prefer.includes('include-unknown-enum-members');
  return ok(200, call.ids, operationResource(polled.operation, polled.view.status, call.version, includeUnknown));
}

interface PageToken {
  offset: number;
}

function readSkipToken(token: string | null): PageToken | undefined {
  if (token === null) return { offset: 0 };
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o?: unknown };
    return typeof parsed.o === 'number' && Number.isInteger(parsed.o) && parsed.o >= 0
      ? { offset: parsed.o }
      : undefined;
  } catch {
    return undefined;
  }
}

function listUserChats(userRef: string, call: GraphCall, deps: ChatEndpointsDeps): SimAnswer {
  const { query, ids } = call;
  const topText = query.get('$top');
  const top = topText === null ? DEFAULT_PAGE_SIZE : Number(topText);
  if (!Number.isInteger(top) || top < 1 || top > MAX_PAGE_SIZE) {
    return graphError(
      400,
      'BadRequest',
      `Invalid page size specified: '${topText}'. Must be between 1 and ${MAX_PAGE_SIZE}.`,
      ids,
    );
  }
  const expand = query.get('$expand');
  const expandMembers = expand !== null && expand.trim() !== '';
  if (expandMembers && expand.trim() !== 'members') {
    return graphError(
      400,
      'BadRequest',
      `Parsing OData Select and Expand failed: Could not find a property named '${expand.trim()}' on type 'microsoft.graph.chat'.`,
      ids,
    );
  }
  const filterText = query.get('$filter');
  const filter = filterText === null ? { ok: true as const, clauses: [] } : parseChatFilter(filterText);
  if (!filter.ok) return graphError(400, 'BadRequest', filter.message, ids);
  const refused =
    deps.createdDateTimeFilter() === 'refused' ? filter.clauses.find((c) => c.field === 'createdDateTime') : undefined;
  if (refused) {
    return graphError(
      400,
      'BadRequest',
      `The entity property 'createdDateTime' and operationKind '${OPERATION_KIND[refused.op]}' is not allowed in $filter query.`,
      ids,
    );
  }
  const page = readSkipToken(query.get('$skiptoken'));
  if (!page) return graphError(400, 'BadRequest', 'The $skiptoken is invalid or expired.', ids);

  const user = deps.directory.find(userRef, call.now);
  if (!user || (user.availableAt !== undefined && call.now < user.availableAt)) {
    return graphError(
      404,
      'NotFound',
      `Failed to find users with ${userRef.includes('@') ? 'user principal name' : 'id'} ${userRef}.`,
      ids,
    );
  }
  const matching = deps.store.chatsOf(user.id).filter((chat) => matchesChatFilter(chat, filter.clauses));
  const slice = matching.slice(page.offset, page.offset + top);
  const value = slice.map((chat) =>
    expandMembers
      ? {
          ...chatFields(chat),
          members: chat.members.slice(0, MAX_EXPANDED_MEMBERS).map((m) => memberResource(chat, m)),
        }
      : chatFields(chat),
  );
  const body: Record<string, unknown> = {
    '@odata.context': `https://graph.microsoft.com/${call.version}/$metadata#users('${user.id}')/chats${expandMembers ? '(members())' : ''}`,
    value,
  };
  const nextOffset = page.offset + slice.length;
  if (nextOffset < matching.length) {
    const next = new URLSearchParams(query);
    next.set('$skiptoken', Buffer.from(JSON.stringify({ o: nextOffset })).toString('base64url'));
    // Keep `$` literal in the names, as Graph's own nextLinks do.
    const queryText = [...next]
      .map(([k, v]) => `${encodeURIComponent(k).replace(/^%24/, '$')}=${encodeURIComponent(v)}`)
      .join('&');
    body['@odata.nextLink'] = `${call.origin}${call.pathname}?${queryText}`;
  }
  return ok(200, ids, body);
}

/**
 * `GET /users/{id | userPrincipalName}`: Entra's user, with `$select` honoured. Entra knows a user as soon as it
 * exists; only Teams lags behind for new hires, so `availableAt` does not hide a user here.
 */
function getUser(userRef: string, call: GraphCall, deps: ChatEndpointsDeps): SimAnswer {
  const selectText = call.query.get('$select');
  const selected =
    selectText === null
      ? [...USER_DEFAULT_PROPERTIES]
      : selectText
          .split(',')
          .map((p) => p.trim())
          .filter((p) => p !== '');
  const unknown = selected.find((p) => !USER_SELECTABLE.has(p));
  if (unknown !== undefined) {
    return graphError(
      400,
      'Request_BadRequest',
      `Could not find a property named '${unknown}' on type 'microsoft.graph.user'.`,
      call.ids,
    );
  }
  const user = deps.directory.find(userRef, call.now);
  if (!user) {
    return graphError(
      404,
      'Request_ResourceNotFound',
      `Resource '${userRef}' does not exist or one of its queried reference-property objects are not present.`,
      call.ids,
    );
  }
  const [givenName, ...rest] = user.displayName.split(' ');
  const all: Record<string, unknown> = {
    businessPhones: [],
    displayName: user.displayName,
    givenName: givenName ?? null,
    jobTitle: null,
    mail: user.mail,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    surname: rest.length > 0 ? rest.join(' ') : null,
    userPrincipalName: user.userPrincipalName,
    id: user.id,
    userType: user.guest ? 'Guest' : 'Member',
    accountEnabled: true,
  };
  const context =
    selectText === null
      ? `https://graph.microsoft.com/${call.version}/$metadata#users/$entity`
      : `https://graph.microsoft.com/${call.version}/$metadata#users(${selected.join(',')})/$entity`;
  const body: Record<string, unknown> = { '@odata.context': context };
  for (const property of selected) body[property] = all[property];
  return ok(200, call.ids, body);
}
