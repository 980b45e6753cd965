import type { FieldError } from '../core/request/fields';

/**
 * RFC 9457 problem documents. Each kind has one stable `type` URI, so clients can switch on it;
 * statuses without a kind of their own use "about:blank" as the RFC says.
 */

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const PROBLEM_BASE = 'https://chat-provisioner.dev/problems/';

export const ProblemType = {
  validation: `${PROBLEM_BASE}validation`,
  unsupportedMediaType: `${PROBLEM_BASE}unsupported-media-type`,
  payloadTooLarge: `${PROBLEM_BASE}payload-too-large`,
  notFound: `${PROBLEM_BASE}not-found`,
  conflict: `${PROBLEM_BASE}conflict`,
  idempotencyMismatch: `${PROBLEM_BASE}idempotency-mismatch`,
  unauthorized: `${PROBLEM_BASE}unauthorized`,
  unavailable: `${PROBLEM_BASE}unavailable`,
  internal: `${PROBLEM_BASE}internal`,
} as const;
export type ProblemType = (typeof ProblemType)[keyof typeof ProblemType];

/** The kind a status means when the caller names none. 422 here only ever means an idempotency-key mismatch. */
const TYPE_BY_STATUS: Readonly<Record<number, ProblemType>> = {
  400: ProblemType.validation,
  401: ProblemType.unauthorized,
  404: ProblemType.notFound,
  409: ProblemType.conflict,
  413: ProblemType.payloadTooLarge,
  415: ProblemType.unsupportedMediaType,
  422: ProblemType.idempotencyMismatch,
  500: ProblemType.internal,
  503: ProblemType.unavailable,
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: FieldError[];
  [ext: string]: unknown;
}

/** A problem document; `extra` may set `type`, `detail`, `instance`, `errors` or extensions, never `status`/`title`. */
export function problem(status: number, title: string, extra?: Partial<Problem>): Problem {
  const doc: Problem = { type: TYPE_BY_STATUS[status] ?? 'about:blank', title, status };
  for (const [key, value] of Object.entries(extra ?? {})) {
    if (value !== undefined && key !== 'status' && key !== 'title') doc[key] = value;
  }
  return doc;
}

/** 400 with every problem found in the input. */
export function validationProblem(errors: FieldError[], detail?: string): Problem {
  const count = errors.length;
  return problem(400, 'The request is not valid', {
    type: ProblemType.validation,
    detail:
      detail ??
      (count === 1
        ? `${errors[0]!.path || 'The body'}: ${errors[0]!.message}`
        : `${count} problems were found; see errors.`),
    errors,
  });
}

export function isProblem(value: unknown): value is Problem {
  const v = value as Partial<Problem> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.type === 'string' &&
    typeof v.title === 'string' &&
    typeof v.status === 'number'
  );
}
