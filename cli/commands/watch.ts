/**
 * `watch`: poll the watched requests until every one is final (succeeded or failed), or until
 * --timeout. Exit 0 when all succeeded, 1 when any failed, did not finish in time or was not found.
 */
import { promises as fs } from 'node:fs';
import pLimit from 'p-limit';
import { ChatRequestResource, isFinal, State, STATES } from '../../shared/core/model';
import { ApiError } from '../api-client';
import { CommandContext, println } from '../context';
import { formatDuration } from '../duration';
import { ExitCode, UsageError } from '../exit-codes';
import { startProgress } from '../progress';
import { readResultIds } from '../results-file';
import { formatTable } from '../table';
import { listQuery } from './list';

export interface WatchOptions {
  /** Watch the requests whose externalId starts with this (found once, at the start). */
  externalPrefix?: string;
  /** With externalPrefix: only requests created since (`1h` or an ISO time), to bound that listing. */
  since?: string;
  /** A results file from `submit --results`: its request ids are watched. */
  idsFrom?: string;
  intervalMs?: number;
  timeoutMs?: number;
}

export const DEFAULT_INTERVAL_MS = 2000;
export const DEFAULT_TIMEOUT_MS = 10 * 60_000;
/** Status calls in flight at once. */
const CONCURRENCY = 8;
/**
 * Above this many open requests, a poll lists the in-flight states (queued, creating, pending: the
 * service's backlog, not its history) instead of asking for each request, and asks only for the
 * watched ones that have left those lists.
 */
export const LIST_ABOVE = 50;
const IN_FLIGHT: readonly State[] = [State.queued, State.creating, State.pending];
/** Marks an id the API does not know (wrong --url, or a results file from another deployment). */
const NOT_FOUND = 'not found';
type Seen = ChatRequestResource | typeof NOT_FOUND;

function isOpen(entry: Seen | undefined): boolean {
  return entry === undefined || (entry !== NOT_FOUND && !isFinal(entry.state));
}

export async function watch(options: WatchOptions, ctx: CommandContext): Promise<number> {
  const prefix = options.externalPrefix === '' ? undefined : options.externalPrefix;
  if (prefix === undefined && options.idsFrom === undefined) {
    throw new UsageError('say what to watch: --external-prefix <prefix> and/or --ids-from <results.csv>');
  }
  if (options.since !== undefined && prefix === undefined) throw new UsageError('--since goes with --external-prefix');
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const watched = new Set(options.idsFrom === undefined ? [] : await idsFromFile(options.idsFrom));

  /** The last view of every watched request. */
  const seen = new Map<string, Seen>();
  /** Views from this round already (the prefix listing): no need to ask again straight away. */
  let fresh = new Set<string>();
  if (prefix !== undefined) {
    const query = listQuery({ externalPrefix: prefix, since: options.since, top: 1000 }, ctx.now());
    for await (const request of ctx.api.listAll(query)) {
      watched.add(request.id);
      seen.set(request.id, request);
      fresh.add(request.id);
    }
    if (watched.size === 0) {
      println(ctx.err, `No requests have an externalId starting with "${prefix}".`);
      return ExitCode.usage;
    }
  }

  const limit = pLimit(CONCURRENCY);
  const poll = async (): Promise<void> => {
    const open = [...watched].filter((id) => !fresh.has(id) && isOpen(seen.get(id)));
    fresh = new Set();
    let toFetch = open;
    const since = earliestCreatedAt(open.map((id) => seen.get(id)));
    if (open.length > LIST_ABOVE && since !== undefined) {
      const inFlight = new Map<string, ChatRequestResource>();
      for (const state of IN_FLIGHT) {
        for await (const request of ctx.api.listAll({ state, since, top: 1000 })) inFlight.set(request.id, request);
      }
      toFetch = [];
      for (const id of open) {
        const request = inFlight.get(id);
        if (request) seen.set(id, request);
        else toFetch.push(id); // final, or moving between states while we listed: ask to be sure
      }
    }
    await Promise.all(
      toFetch.map((id) =>
        limit(async () => {
          try {
            seen.set(id, await ctx.api.getRequest(id));
          } catch (error) {
            if (error instanceof ApiError && error.status === 404) seen.set(id, NOT_FOUND);
            else throw error;
          }
        }),
      ),
    );
  };

  const startedAt = ctx.now().getTime();
  const deadline = startedAt + timeoutMs;
  let progress: ReturnType<typeof startProgress> | undefined;
  let timedOut = false;
  const total = watched.size;
  for (;;) {
    await poll();
    const counts = countStates(seen);
    const done = [...seen.values()].filter((entry) => entry === NOT_FOUND || isFinal(entry.state)).length;
    progress ??= startProgress(ctx.err, { label: 'Watching', total, now: ctx.now, plainEveryMs: 30_000 });
    progress.update(done, [describeCounts(counts), describeWaiting(seen)].filter(Boolean).join('; '));
    if (done >= total) break;
    const left = deadline - ctx.now().getTime();
    if (left <= 0) {
      timedOut = true;
      break;
    }
    await ctx.sleep(Math.min(intervalMs, left));
  }
  progress?.stop();

  const entries = [...seen.entries()];
  const counts = countStates(seen);
  const elapsed = formatDuration(ctx.now().getTime() - startedAt);
  const failed = entries.filter(([, entry]) => entry !== NOT_FOUND && entry.state === State.failed);
  const missing = entries.filter(([, entry]) => entry === NOT_FOUND).map(([id]) => id);
  if (timedOut) {
    const open = entries.filter(([, entry]) => entry !== NOT_FOUND && !isFinal(entry.state)).length;
    println(
      ctx.out,
      `Timed out after ${elapsed}: ${open} of ${entries.length} requests are not final (${describeCounts(counts)}).`,
    );
  } else {
    println(ctx.out, `All ${entries.length} requests are final after ${elapsed}: ${describeCounts(counts)}.`);
  }
  const waiting = entries.filter(([, entry]) => entry !== NOT_FOUND && !isFinal(entry.state));
  if (waiting.length > 0) {
    println(ctx.out, 'Not final yet, and why:');
    const rows = waiting.map(([id, entry]) => {
      const request = entry as ChatRequestResource;
      return [
        id,
        request.externalId ?? '',
        request.state,
        request.waiting?.reason ?? '',
        request.waiting?.until ?? '',
        request.waiting?.message ?? '',
      ];
    });
    const table = formatTable(
      [
        { header: 'ID' },
        { header: 'EXTERNAL ID' },
        { header: 'STATE' },
        { header: 'WAITING' },
        { header: 'UNTIL' },
        { header: 'WHY', maxWidth: 100 },
      ],
      rows,
    );
    for (const line of table) println(ctx.out, `  ${line}`);
  }
  if (failed.length > 0) {
    println(ctx.out, 'Failed:');
    const rows = failed.map(([id, entry]) => {
      const request = entry as ChatRequestResource;
      return [
        id,
        request.externalId ?? '',
        request.error?.code ?? '',
        request.error?.message ?? '',
        request.error?.graphRequestId ?? '',
      ];
    });
    const table = formatTable(
      [
        { header: 'ID' },
        { header: 'EXTERNAL ID' },
        { header: 'CODE' },
        { header: 'MESSAGE', maxWidth: 70 },
        { header: 'GRAPH REQUEST ID' },
      ],
      rows,
    );
    for (const line of table) println(ctx.out, `  ${line}`);
  }
  if (missing.length > 0) println(ctx.err, `Not found (${missing.length}): ${missing.join(', ')}`);
  const allSucceeded = !timedOut && failed.length === 0 && missing.length === 0;
  return allSucceeded ? ExitCode.ok : ExitCode.someFailed;
}

/** The oldest createdAt among the views, to bound a listing; undefined when one is not known yet. */
function earliestCreatedAt(entries: readonly (Seen | undefined)[]): Date | undefined {
  let earliest = Infinity;
  for (const entry of entries) {
    if (entry === undefined || entry === NOT_FOUND) return undefined;
    const at = Date.parse(entry.createdAt);
    if (Number.isNaN(at)) return undefined;
    earliest = Math.min(earliest, at);
  }
  return Number.isFinite(earliest) ? new Date(earliest) : undefined;
}

async function idsFromFile(file: string): Promise<string[]> {
  let content: Buffer;
  try {
    content = await fs.readFile(file);
  } catch (error) {
    throw new UsageError(
      `cannot read --ids-from ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  const { ids, problems } = readResultIds(content);
  if (problems.length > 0) throw new UsageError(`--ids-from ${file} ${problems.join('; ')}`);
  if (ids.length === 0) throw new UsageError(`--ids-from ${file} holds no request ids (no row was accepted)`);
  return ids;
}

type Counts = Map<string, number>;

function countStates(seen: ReadonlyMap<string, Seen>): Counts {
  const counts: Counts = new Map();
  for (const entry of seen.values()) {
    const key = entry === NOT_FOUND ? NOT_FOUND : entry.state;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** `waiting: 2 newHireGrace, 1 leased`: why the open requests wait (the service's `waiting.reason`). */
export function describeWaiting(seen: ReadonlyMap<string, Seen>): string {
  const reasons = new Map<string, number>();
  for (const entry of seen.values()) {
    if (entry === NOT_FOUND || isFinal(entry.state) || !entry.waiting) continue;
    reasons.set(entry.waiting.reason, (reasons.get(entry.waiting.reason) ?? 0) + 1);
  }
  if (reasons.size === 0) return '';
  return `waiting: ${[...reasons].map(([reason, count]) => `${count} ${reason}`).join(', ')}`;
}

/** `3 queued, 1 pending, 8 succeeded` in the states' own order. */
export function describeCounts(counts: ReadonlyMap<string, number>): string {
  const order = [...STATES, NOT_FOUND];
  return order
    .filter((state) => (counts.get(state) ?? 0) > 0)
    .map((state) => `${counts.get(state)} ${state}`)
    .join(', ');
}
