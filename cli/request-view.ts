/** How a request resource reads in a terminal: a block for `status`, a table row for `list`. Pure. */
import type { ChatRequestResource } from '../shared/core/model';
import { displayUrl } from './api-client';
import { Column, formatBlock, formatTable } from './table';

export function requestBlock(request: ChatRequestResource): string[] {
  const error = request.error;
  const operation = request.operation;
  const callback = request.callback;
  return formatBlock([
    ['id', request.id],
    ['externalId', request.externalId],
    ['state', request.state],
    ['waiting', request.waiting && `${request.waiting.reason}: ${request.waiting.message}`],
    ['chatType', request.chatType],
    ['topic', request.topic],
    ['members', describeMembers(request)],
    ['apps', request.apps?.map((app) => app.teamsAppId).join(', ')],
    ['notBefore', request.notBefore],
    ['createdAt', request.createdAt],
    ['updatedAt', request.updatedAt],
    ['attempts', String(request.attempts ?? 0)],
    ['nextAttemptAt', request.nextAttemptAt],
    ['chat', request.chat?.id],
    ['chat link', request.chat?.webUrl],
    [
      'operation',
      operation &&
        `${operation.status}, ${operation.checks} ${operation.checks === 1 ? 'check' : 'checks'}` +
          (operation.nextCheckAt ? `, next at ${operation.nextCheckAt}` : ''),
    ],
    ['error', error && `${error.code}: ${error.message}`],
    [
      'error detail',
      error &&
        [
          error.httpStatus === undefined ? undefined : `HTTP ${error.httpStatus}`,
          `retryable: ${error.retryable ? 'yes' : 'no'}`,
        ]
          .filter(Boolean)
          .join(', '),
    ],
    ['graph request id', error?.graphRequestId],
    ['client request id', error?.clientRequestId],
    [
      'callback',
      callback &&
        `${callback.state} after ${callback.attempts} ${callback.attempts === 1 ? 'attempt' : 'attempts'} to ${displayUrl(callback.url)}` +
          (callback.lastError ? ` (last error: ${callback.lastError})` : ''),
    ],
  ]);
}

/** Counts, not addresses: the output may end up in a ticket or a CI log. */
function describeMembers(request: ChatRequestResource): string | undefined {
  const members = request.members ?? [];
  if (members.length === 0) return undefined;
  const guests = members.filter((member) => member.role === 'guest').length;
  const external = members.filter((member) => member.tenantId !== undefined).length;
  const parts = [`${members.length - guests} ${members.length - guests === 1 ? 'owner' : 'owners'}`];
  if (guests > 0) parts.push(`${guests} ${guests === 1 ? 'guest' : 'guests'}`);
  if (external > 0) parts.push(`${external} from another tenant`);
  return `${members.length} (${parts.join(', ')})`;
}

export const REQUEST_COLUMNS: readonly Column[] = [
  { header: 'ID' },
  { header: 'EXTERNAL ID', maxWidth: 32 },
  { header: 'STATE' },
  { header: 'WAITING', maxWidth: 48 },
  { header: 'ATTEMPTS', align: 'right' },
  { header: 'UPDATED' },
  { header: 'ERROR', maxWidth: 60 },
  { header: 'GRAPH REQUEST ID' },
];

export function requestRow(request: ChatRequestResource): string[] {
  return [
    request.id,
    request.externalId ?? '',
    request.state,
    request.waiting ? `${request.waiting.reason}${request.waiting.until ? ` until ${request.waiting.until}` : ''}` : '',
    String(request.attempts ?? 0),
    request.updatedAt ?? '',
    request.error ? `${request.error.code}: ${request.error.message}` : '',
    request.error?.graphRequestId ?? '',
  ];
}

export function requestTable(requests: readonly ChatRequestResource[]): string[] {
  return formatTable(REQUEST_COLUMNS, requests.map(requestRow));
}
