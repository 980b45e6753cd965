/**
 * `submit <file>`: validate every row locally, then send the valid ones in batches and report what
 * the API did with each row. Re-running a file is safe: every row has an externalId, so rows the API
 * already has come back `replayed` instead of making a second chat.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseProvisioningRequest } from '../../shared/core/request/parse';
import { ApiError, MAX_BATCH_SIZE, NetworkError } from '../api-client';
import type { FieldError } from '../api-client';
import { CommandContext, println } from '../context';
import {
  checkRows,
  fieldName,
  formatOf,
  inFileWords,
  InputFormat,
  InputRow,
  isKnownEncoding,
  readInputFile,
  ValidateRequest,
} from '../csv-rows';
import { describeFailure, exitCodeFor, ExitCode, UsageError } from '../exit-codes';
import { startProgress } from '../progress';
import { formatResultsCsv, RowResult, RowStatus } from '../results-file';

export interface SubmitOptions {
  /** Rows per batch call (1..1000, default 500). */
  chunk?: number;
  /** Where to write the results CSV. */
  results?: string;
  dryRun?: boolean;
  /** How the file's bytes are text (utf-8 when not given; a file that is not UTF-8 is refused). */
  encoding?: string;
  /** Send the valid rows even when some are invalid (those are listed and left out). */
  skipInvalid?: boolean;
  /** Overrides the format the file name implies. */
  format?: InputFormat;
  /** The request check; the server's own by default. */
  validate?: ValidateRequest;
}

export const DEFAULT_CHUNK = 500;

export async function submit(file: string, options: SubmitOptions, ctx: CommandContext): Promise<number> {
  const chunkSize = options.chunk ?? DEFAULT_CHUNK;
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_BATCH_SIZE) {
    throw new UsageError(`--chunk must be a whole number from 1 to ${MAX_BATCH_SIZE}`);
  }
  const format = options.format ?? formatOf(file);
  if (format === undefined)
    throw new UsageError(`${file}: expected a .csv or .jsonl file (or pass --format csv|jsonl)`);

  if (options.encoding !== undefined && !isKnownEncoding(options.encoding)) {
    throw new UsageError(
      `--encoding: unknown encoding "${options.encoding}" (e.g. utf-8, latin1, windows-1252, utf-16le)`,
    );
  }

  let content: Buffer;
  try {
    content = await fs.readFile(file);
  } catch (error) {
    throw new UsageError(readFailure(file, error));
  }
  const input = readInputFile(content, format, options.encoding);
  if (input.problems.length > 0) {
    for (const problem of input.problems) println(ctx.err, `${file}: ${problem}`);
    println(ctx.err, 'Nothing was sent.');
    return ExitCode.usage;
  }
  if (input.rows.length === 0) {
    throw new UsageError(
      format === 'csv'
        ? `${file} has a header but no rows under it: nothing to send.`
        : `${file} has no requests in it (every line is empty): nothing to send.`,
    );
  }

  const validate = options.validate ?? parseProvisioningRequest;
  const { valid, invalid } = checkRows(input.rows, validate, ctx.now());
  const rowsWord = plural(input.rows.length, 'row');
  if (invalid.length > 0) {
    println(ctx.err, `${file}: ${invalid.length} of ${rowsWord} ${invalid.length === 1 ? 'is' : 'are'} invalid:`);
    for (const bad of invalid) {
      for (const error of bad.errors)
        println(ctx.err, `  line ${bad.row.line}${idLabel(bad.row)}: ${error.field}: ${error.message}`);
    }
    if (valid.length === 0) {
      println(ctx.err, `Nothing was sent: no row is valid. Fix ${invalid.length === 1 ? 'it' : 'them'} and run again.`);
      return ExitCode.usage;
    }
    if (!options.skipInvalid) {
      println(
        ctx.err,
        `Nothing was sent. Fix ${invalid.length === 1 ? 'that row' : 'those rows'}, or pass --skip-invalid to send the ${valid.length === 1 ? 'one valid row' : `other ${plural(valid.length, 'valid row')}`}.`,
      );
      return ExitCode.usage;
    }
  }
  const batches = Math.ceil(valid.length / chunkSize);
  if (options.dryRun) {
    println(
      ctx.out,
      `Dry run: ${plural(valid.length, 'valid row')} of ${rowsWord} in ${file}; ${batches === 0 ? 'nothing' : `${plural(batches, 'batch', 'batches')} of up to ${chunkSize}`} would be sent. Nothing was sent.`,
    );
    return invalid.length > 0 ? ExitCode.someFailed : ExitCode.ok;
  }

  const results = new Map<InputRow, RowResult>();
  for (const bad of invalid) {
    results.set(bad.row, {
      ...rowKey(bad.row),
      status: RowStatus.invalid,
      errors: bad.errors.map((e) => `${e.field}: ${e.message}`).join('; '),
    });
  }
  // Check the results path before sending anything: a typo must not cost a whole run's results.
  if (options.results) await writeResults(options.results, input.rows, results);

  const counts = { accepted: 0, replayed: 0, rejected: 0 };
  const progress = startProgress(ctx.err, {
    label: `Sending ${path.basename(file)}`,
    total: valid.length,
    now: ctx.now,
  });
  let stopped: unknown;
  let sent = 0;
  for (let start = 0; start < valid.length; start += chunkSize) {
    const chunk = valid.slice(start, start + chunkSize);
    try {
      const answer = await ctx.api.submitBatch(chunk.map((row) => row.body));
      const byIndex = new Map(answer.results.map((result) => [result.index, result]));
      chunk.forEach((row, index) => {
        const result = byIndex.get(index);
        if (result === undefined) {
          counts.rejected += 1;
          results.set(row, {
            ...rowKey(row),
            status: RowStatus.rejected,
            errors: 'the API gave no result for this row; re-run the file',
          });
          return;
        }
        counts[result.status] += 1;
        const entry: RowResult = { ...rowKey(row), status: result.status };
        if (result.id !== undefined) entry.requestId = result.id;
        if (result.errors && result.errors.length > 0) entry.errors = describeErrors(row, result.errors);
        results.set(row, entry);
      });
    } catch (error) {
      if (!(error instanceof ApiError) && !(error instanceof NetworkError)) throw error;
      stopped = error;
      break;
    }
    sent += chunk.length;
    progress.update(sent, `(${counts.accepted} accepted, ${counts.replayed} replayed, ${counts.rejected} rejected)`);
  }
  progress.stop();
  for (const row of valid) {
    if (!results.has(row)) results.set(row, { ...rowKey(row), status: RowStatus.notSent });
  }

  const rejected = valid.filter((row) => results.get(row)?.status === RowStatus.rejected);
  if (rejected.length > 0) {
    println(ctx.err, `Rejected by the API (${rejected.length}):`);
    for (const row of rejected)
      println(ctx.err, `  line ${row.line}${idLabel(row)}: ${results.get(row)?.errors ?? 'rejected'}`);
  }
  if (stopped !== undefined) {
    for (const line of describeFailure(stopped)) println(ctx.err, line);
    println(
      ctx.err,
      `Stopped: ${plural(valid.length - sent, 'row')} not sent. Re-running the file is safe: rows already sent come back "replayed".`,
    );
  }
  println(
    ctx.out,
    `${file}: sent ${sent} of ${rowsWord} in ${plural(Math.ceil(sent / chunkSize), 'batch', 'batches')}: ` +
      `${counts.accepted} accepted, ${counts.replayed} replayed, ${counts.rejected} rejected` +
      (invalid.length > 0 ? `, ${invalid.length} invalid (not sent)` : '') +
      (stopped !== undefined ? `, ${valid.length - sent} not sent` : '') +
      '.',
  );
  if (options.results) {
    await writeResults(options.results, input.rows, results);
    println(ctx.out, `Results: ${options.results}`);
  }
  if (stopped !== undefined) return exitCodeFor(stopped);
  return counts.rejected > 0 || invalid.length > 0 ? ExitCode.someFailed : ExitCode.ok;
}

function rowKey(row: InputRow): Pick<RowResult, 'line' | 'externalId'> {
  return row.externalId === undefined ? { line: row.line } : { line: row.line, externalId: row.externalId };
}

function idLabel(row: InputRow): string {
  return row.externalId === undefined ? '' : ` (${row.externalId})`;
}

/** The API's field errors in the file's words (`members[3]` of a CSV row → `guests entry 1`). */
function describeErrors(row: InputRow, errors: readonly FieldError[]): string {
  return errors
    .map(
      (error) => `${fieldName(row, error.path.replace(/^requests\[\d+\]\.?/, ''))}: ${inFileWords(row, error.message)}`,
    )
    .join('; ');
}

function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}

/** Written whole to a temporary file and renamed, so a results file is never half-written. */
async function writeResults(
  file: string,
  rows: readonly InputRow[],
  results: ReadonlyMap<InputRow, RowResult>,
): Promise<void> {
  const ordered = rows.map((row) => results.get(row)).filter((result): result is RowResult => result !== undefined);
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    await fs.writeFile(temporary, formatResultsCsv(ordered));
    await fs.rename(temporary, file);
  } catch (error) {
    await fs.rm(temporary, { force: true }).catch(() => undefined);
    throw new UsageError(
      `cannot write --results ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

/** Why a file could not be read, as a person would say it. */
function readFailure(file: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `${file}: not found (no such file; the path is relative to ${process.cwd()})`;
  if (code === 'EISDIR') return `${file} is a folder, not a file`;
  if (code === 'EACCES' || code === 'EPERM') return `${file}: permission denied (cannot read it)`;
  return `cannot read ${file}: ${code ?? (error as Error).message}`;
}
