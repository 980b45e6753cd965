/** `list`: requests matching the filters, following nextLink; an aligned table or JSON lines. */
import { State, STATES } from '../../shared/core/model';
import type { ListQuery } from '../api-client';
import { CommandContext, println } from '../context';
import { parseSince } from '../duration';
import { ExitCode, UsageError } from '../exit-codes';
import { requestTable } from '../request-view';

export interface ListOptions {
  state?: string;
  /** `1h`, `30m` or an ISO time: requests created since then. */
  since?: string;
  /** Filtered by the CLI: the API's externalId filter is an exact match. */
  externalPrefix?: string;
  /** Exact externalId (the API looks it up directly). */
  externalId?: string;
  /** At most this many requests. */
  top?: number;
  json?: boolean;
}

/** Page size asked of the API when --top does not say. */
const PAGE_SIZE = 100;

/** The filters shared by list, retry --all-failed and watch, checked once. */
export function listQuery(
  options: Pick<ListOptions, 'state' | 'since' | 'externalPrefix' | 'externalId' | 'top'>,
  now: Date,
): ListQuery {
  const query: ListQuery = {};
  if (options.state !== undefined) {
    if (!(STATES as readonly string[]).includes(options.state)) {
      throw new UsageError(`--state must be one of ${STATES.join(', ')}`);
    }
    query.state = options.state as State;
  }
  if (options.since !== undefined) {
    const since = parseSince(options.since, now);
    if (since === undefined) throw new UsageError('--since must be a duration such as 1h or 30m, or an ISO time');
    query.since = since;
  }
  if (options.externalPrefix !== undefined && options.externalPrefix !== '') {
    query.externalIdPrefix = options.externalPrefix;
  }
  if (options.externalId !== undefined) {
    if (options.externalId === '') throw new UsageError('--external-id must not be empty');
    query.externalId = options.externalId;
  }
  query.top = Math.min(options.top ?? PAGE_SIZE, 1000);
  return query;
}

export async function list(options: ListOptions, ctx: CommandContext): Promise<number> {
  const query = listQuery(options, ctx.now());
  if (options.json) {
    for await (const request of ctx.api.listAll(query, options.top)) println(ctx.out, JSON.stringify(request));
    return ExitCode.ok;
  }
  const requests = [];
  for await (const request of ctx.api.listAll(query, options.top)) requests.push(request);
  if (requests.length === 0) {
    println(ctx.out, 'No requests match.');
    return ExitCode.ok;
  }
  for (const line of requestTable(requests)) println(ctx.out, line);
  println(ctx.out, `${requests.length} ${requests.length === 1 ? 'request' : 'requests'}`);
  return ExitCode.ok;
}
