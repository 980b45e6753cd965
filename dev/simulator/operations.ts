/** teamsAsyncOperation progression per poll, and the fates tests can script. Pure. */

export interface OperationTimings {
  /** Polls answered before the status turns inProgress (the first poll sees notStarted when > 0). */
  inProgressAfterPolls: number;
  /** Polls answered before the status turns final. */
  succeededAfterPolls: number;
}

export const DEFAULT_OPERATION_TIMINGS: OperationTimings = { inProgressAfterPolls: 1, succeededAfterPolls: 2 };

export type OperationFate =
  | { kind: 'succeed' }
  | { kind: 'failed'; error: { code: string; message: string } }
  /** Stays inProgress for ever. */
  | { kind: 'stall' }
  /** The operation record is gone (404) while the chat was made. */
  | { kind: 'vanish' }
  | { kind: 'invalid' }
  /** Ends in an enum member newer than the caller's contract; shown as unknownFutureValue unless opted in. */
  | { kind: 'unknownFutureValue'; futureValue: string };

export const OPERATION_FATES = ['succeed', 'failed', 'stall', 'vanish', 'invalid', 'unknownFutureValue'] as const;

export type OperationStatus = 'notStarted' | 'inProgress' | 'succeeded' | 'failed' | 'invalid' | 'unknownFutureValue';

export type OperationView = { kind: 'status'; status: string; final: boolean } | { kind: 'vanished' };

/** The status shown on a poll after `pollsBefore` earlier polls. */
export function operationStatusAt(pollsBefore: number, timings: OperationTimings, fate: OperationFate): OperationView {
  if (fate.kind === 'vanish') return { kind: 'vanished' };
  const inProgressAt = Math.min(timings.inProgressAfterPolls, timings.succeededAfterPolls);
  if (fate.kind === 'stall')
    return { kind: 'status', status: pollsBefore >= inProgressAt ? 'inProgress' : 'notStarted', final: false };
  if (pollsBefore >= timings.succeededAfterPolls) {
    switch (fate.kind) {
      case 'succeed':
        return { kind: 'status', status: 'succeeded', final: true };
      case 'failed':
        return { kind: 'status', status: 'failed', final: true };
      case 'invalid':
        return { kind: 'status', status: 'invalid', final: true };
      case 'unknownFutureValue':
        return { kind: 'status', status: fate.futureValue, final: true };
    }
  }
  return { kind: 'status', status: pollsBefore >= inProgressAt ? 'inProgress' : 'notStarted', final: false };
}

/** The members of teamsAsyncOperationStatus up to its unknownFutureValue sentinel; anything else is evolvable. */
const STATUS_MEMBERS = new Set(['invalid', 'notStarted', 'inProgress', 'succeeded', 'failed', 'unknownFutureValue']);
/** teamsAsyncOperationType members before the sentinel; createChat comes after it, so it is evolvable. */
const OPERATION_TYPE_MEMBERS = new Set([
  'invalid',
  'cloneTeam',
  'archiveTeam',
  'unarchiveTeam',
  'createTeam',
  'unknownFutureValue',
]);

/** Graph hides evolvable enum members behind unknownFutureValue unless `Prefer: include-unknown-enum-members` was sent. */
export function visibleEnumValue(value: string, kind: 'status' | 'operationType', includeUnknown: boolean): string {
  const members = kind === 'status' ? STATUS_MEMBERS : OPERATION_TYPE_MEMBERS;
  return members.has(value) || includeUnknown ? value : 'unknownFutureValue';
}

/** Reads a fate from control input: a name or `{fate, error?, futureValue?}`. */
export function parseOperationFate(input: unknown): OperationFate {
  const spec = typeof input === 'string' ? { fate: input } : input;
  if (spec === null || typeof spec !== 'object') throw new TypeError('fate must be a name or an object with "fate"');
  const { fate, error, futureValue } = spec as { fate?: unknown; error?: unknown; futureValue?: unknown };
  switch (fate) {
    case 'succeed':
    case 'succeeded':
      return { kind: 'succeed' };
    case 'failed': {
      const e = (error ?? {}) as { code?: unknown; message?: unknown };
      return {
        kind: 'failed',
        error: {
          code: typeof e.code === 'string' ? e.code : 'InternalServerError',
          message: typeof e.message === 'string' ? e.message : 'The chat could not be created.',
        },
      };
    }
    case 'stall':
      return { kind: 'stall' };
    case 'vanish':
      return { kind: 'vanish' };
    case 'invalid':
      return { kind: 'invalid' };
    case 'unknownFutureValue':
      return { kind: 'unknownFutureValue', futureValue: typeof futureValue === 'string' ? futureValue : 'deferred' };
    default:
      throw new TypeError(`unknown fate '${String(fate)}'; expected one of ${OPERATION_FATES.join(', ')}`);
  }
}

export function parseOperationTimings(input: unknown, base: OperationTimings): OperationTimings {
  if (input === undefined) return base;
  if (input === null || typeof input !== 'object') throw new TypeError('operationTimings must be an object');
  const { inProgressAfterPolls, succeededAfterPolls } = input as Record<string, unknown>;
  const pick = (value: unknown, fallback: number, name: string): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
      throw new TypeError(`${name} must be an integer >= 0`);
    return value;
  };
  return {
    inProgressAfterPolls: pick(inProgressAfterPolls, base.inProgressAfterPolls, 'inProgressAfterPolls'),
    succeededAfterPolls: pick(succeededAfterPolls, base.succeededAfterPolls, 'succeededAfterPolls'),
  };
}
