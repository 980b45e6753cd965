/** The CLI's exit codes and how each failure is told to the person at the terminal (never a stack trace). */
import { ApiError, NetworkError } from './api-client';

export const ExitCode = {
  ok: 0,
  /** Some rows or requests failed or were rejected. */
  someFailed: 1,
  /** Bad flags, arguments or input file; also a missing or wrong function key. */
  usage: 2,
  /** The API could not be reached or is unavailable (5xx, 429 after retries). */
  unavailable: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Something the user can fix in the command line or the input: exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof UsageError) return ExitCode.usage;
  if (error instanceof NetworkError) return ExitCode.unavailable;
  if (error instanceof ApiError) {
    if (error.status === 401 || error.status === 403) return ExitCode.usage;
    // 5xx, 429, a redirect, or a 2xx that broke the contract: the API is not usable as it is.
    if (error.status >= 500 || error.status === 429 || error.status < 400) return ExitCode.unavailable;
    return ExitCode.someFailed;
  }
  return ExitCode.someFailed;
}

/** Lines that explain a failure: a problem's title, detail and field errors, and what to do next. */
export function describeFailure(error: unknown, urlSource?: string): string[] {
  if (error instanceof UsageError) return [`Error: ${error.message}`];
  if (error instanceof NetworkError) {
    const source = urlSource
      ? `The address came from ${urlSource}; set --url or CHAT_PROVISIONER_URL to use another.`
      : 'The address comes from --url or CHAT_PROVISIONER_URL.';
    return [`Error: ${error.message}.`, `Is the service running? ${source}`];
  }
  if (error instanceof ApiError) {
    const lines = [`Error: ${error.message}`];
    const problem = error.problem;
    if (problem?.detail) lines.push(`  ${problem.detail}`);
    for (const item of problem?.errors ?? [])
      lines.push(`  - ${item.path === '' ? '(body)' : item.path}: ${item.message}`);
    if (error.status === 401 || error.status === 403) {
      lines.push('Set CHAT_PROVISIONER_KEY to a function key of the app (or its host key).');
    } else if (error.status === 429 || error.status === 503) {
      const wait =
        error.retryAfterMs === undefined ? '' : ` (the API asked to wait ${Math.ceil(error.retryAfterMs / 1000)}s)`;
      lines.push(`The API is busy or unavailable${wait}; try again later.`);
    }
    return lines;
  }
  const message = error instanceof Error ? error.message : String(error);
  return [`Error: ${message}`];
}
