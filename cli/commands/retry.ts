/** `retry <id>` / `retry --all-failed`: put failed requests back in the queue. */
import pLimit from 'p-limit';
import { State } from '../../shared/core/model';
import { ApiError, RetryAnswer } from '../api-client';
import { CommandContext, println } from '../context';
import { describeFailure, ExitCode, UsageError } from '../exit-codes';
import { listQuery } from './list';

export interface RetryOptions {
  allFailed?: boolean;
  since?: string;
  externalPrefix?: string;
}

/** Retries in flight at once for --all-failed: each is a small write on the API's side. */
const CONCURRENCY = 4;

export async function retry(id: string | undefined, options: RetryOptions, ctx: CommandContext): Promise<number> {
  if ((id === undefined) === !options.allFailed) throw new UsageError('give either a request id or --all-failed');
  if (id !== undefined) {
    if (options.since !== undefined || options.externalPrefix !== undefined) {
      throw new UsageError('--since and --external-prefix go with --all-failed');
    }
    return reportOne(id, await ctx.api.retryRequest(id), ctx) ? ExitCode.ok : ExitCode.someFailed;
  }

  const query = listQuery(
    { state: State.failed, since: options.since, externalPrefix: options.externalPrefix },
    ctx.now(),
  );
  const ids: string[] = [];
  for await (const request of ctx.api.listAll(query)) ids.push(request.id);
  if (ids.length === 0) {
    println(ctx.out, 'No failed requests match.');
    return ExitCode.ok;
  }
  println(ctx.out, `Retrying ${ids.length} failed ${ids.length === 1 ? 'request' : 'requests'}…`);
  const limit = pLimit(CONCURRENCY);
  let queued = 0;
  let refused = 0;
  await Promise.all(
    ids.map((requestId) =>
      limit(async () => {
        try {
          if (reportOne(requestId, await ctx.api.retryRequest(requestId), ctx)) queued += 1;
          else refused += 1;
        } catch (error) {
          // One request's 404 is reported and counted; an unreachable API stops the run.
          if (
            !(error instanceof ApiError) ||
            error.status >= 500 ||
            error.status === 429 ||
            error.status === 401 ||
            error.status === 403
          ) {
            limit.clearQueue();
            throw error;
          }
          refused += 1;
          for (const line of describeFailure(error)) println(ctx.err, `  ${requestId}: ${line}`);
        }
      }),
    ),
  );
  println(ctx.out, `${queued} queued again, ${refused} not retried.`);
  return refused > 0 ? ExitCode.someFailed : ExitCode.ok;
}

/** One line per request; true when it was queued again. */
function reportOne(id: string, answer: RetryAnswer, ctx: CommandContext): boolean {
  if (answer.kind === 'queued') {
    println(ctx.out, `${id}: queued again${answer.request ? ` (state ${answer.request.state})` : ''}`);
    return true;
  }
  const state = answer.state ? `it is ${answer.state}, not failed` : 'it is not failed';
  const detail = answer.problem.detail ? ` (${answer.problem.detail})` : '';
  println(ctx.err, `${id}: not retried: ${state}${detail}`);
  return false;
}
