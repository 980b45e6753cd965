/**
 * Errors the service raises and the one place that classifies storage service errors.
 * Every error says whether retrying can help (`retryable`) and keeps its cause.
 */

export class ServiceError extends Error {
  readonly retryable: boolean;
  constructor(message: string, options: { retryable: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.retryable = options.retryable;
  }
}

/** Storage (tables/queues) could not be reached or answered 5xx: callers answer 503 and retry later. */
export class StorageUnavailableError extends ServiceError {
  constructor(message: string, cause?: unknown) {
    super(message, { retryable: true, cause });
  }
}

/** A conditional write lost: someone else changed the row first. Carries what won, when known. */
export class ConcurrencyConflictError<T = unknown> extends ServiceError {
  constructor(
    message: string,
    readonly current?: T,
    cause?: unknown,
  ) {
    super(message, { retryable: false, cause });
  }
}

/** An insert-if-absent lost: the record already exists. Carries the record that won. */
export class AlreadyExistsError<T = unknown> extends ServiceError {
  constructor(
    message: string,
    readonly existing: T,
    cause?: unknown,
  ) {
    super(message, { retryable: false, cause });
  }
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isNotFound(error: unknown): boolean {
  return statusOf(error) === 404;
}

/** Insert of an entity or queue that exists already. */
export function isConflict(error: unknown): boolean {
  return statusOf(error) === 409;
}

/** ETag condition failed (412), the loser of a race. */
export function isPreconditionFailed(error: unknown): boolean {
  return statusOf(error) === 412;
}

export function isThrottled(error: unknown): boolean {
  const status = statusOf(error);
  return status === 429 || status === 503;
}

/** Storage unreachable, timing out or failing on its side: worth answering 503 and trying again. */
export function isStorageUnavailable(error: unknown): boolean {
  const status = statusOf(error);
  if (status !== undefined) return status >= 500 || status === 408 || status === 429;
  const code = codeOf(error);
  return (
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'ETIMEDOUT' ||
    code === 'EPIPE' ||
    code === 'REQUEST_SEND_ERROR' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN' ||
    (error as { name?: string } | null)?.name === 'AbortError'
  );
}

/** Rethrows storage outages as StorageUnavailableError so handlers map them to 503 in one place. */
export function asStorageError(error: unknown, what: string): never {
  if (error instanceof ServiceError) throw error;
  if (isStorageUnavailable(error)) throw new StorageUnavailableError(`Storage is unavailable (${what})`, error);
  throw error;
}
