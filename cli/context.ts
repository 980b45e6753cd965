/** What every command gets: the API client, where to write, and the clock (all injectable for tests). */
import { ApiClient, ApiClientOptions } from './api-client';
import { formatDuration } from './duration';
import { describeFailure, exitCodeFor, UsageError } from './exit-codes';

/** A place to write text; `isTTY` picks the progress bar over plain lines. */
export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface CommandContext {
  api: ApiClient;
  /** Results: tables, blocks, JSON lines, summaries. */
  out: Output;
  /** Progress, retry notices and errors. */
  err: Output;
  now(): Date;
  sleep(ms: number): Promise<void>;
  /** Where the API's address came from, to say so when it cannot be reached. */
  urlSource?: string;
}

export interface ContextOptions {
  baseUrl: string;
  /** Where baseUrl came from (`--url`, `CHAT_PROVISIONER_URL`, local.settings.json…), for "could not reach". */
  urlSource?: string;
  key?: string;
  signingSecret?: string;
  out: Output;
  err: Output;
  fetch?: typeof fetch;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  /** Passed to the API client (tests shorten retries). */
  client?: Pick<ApiClientOptions, 'maxAttempts' | 'timeoutMs' | 'random'>;
}

export function createContext(options: ContextOptions): CommandContext {
  const now = options.now ?? (() => new Date());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let api: ApiClient;
  try {
    api = new ApiClient({
      ...options.client,
      baseUrl: options.baseUrl,
      key: options.key,
      signingSecret: options.signingSecret,
      fetch: options.fetch,
      now,
      sleep,
      onRetry: (notice) =>
        println(
          options.err,
          `  ${notice.method} ${new URL(notice.url).pathname}: ${notice.reason}; retrying in ${formatDuration(notice.delayMs)} (attempt ${notice.attempt + 1} of ${notice.maxAttempts})`,
        ),
    });
  } catch (error) {
    throw new UsageError(`${options.urlSource ?? '--url'}: ${(error as Error).message}`);
  }
  return { api, out: options.out, err: options.err, now, sleep, urlSource: options.urlSource };
}

export function println(output: Output, line = ''): void {
  output.write(`${line}\n`);
}

/** Runs a command and turns any failure into its message and exit code. */
export async function runCommand(err: Output, command: () => Promise<number>, urlSource?: string): Promise<number> {
  try {
    return await command();
  } catch (error) {
    for (const line of describeFailure(error, urlSource)) println(err, line);
    return exitCodeFor(error);
  }
}
