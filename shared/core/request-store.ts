import { ConcurrencyConflictError } from './errors';
import type { CreateOptions, IdempotencyStore } from './idempotency';
import { canTransition, ChatRequest, IllegalTransitionError, isFinal, State } from './model';
import type { RequestQueue } from './queue/port';

/**
 * The port between the service's logic and where requests live. Few methods, each race-free:
 * inserts are put-if-absent and updates are conditional on the ETag that was read.
 */
export interface Stored<T> {
  value: T;
  etag: string;
  /**
   * Where the store keeps the copy this was read from or written to, and its revision: the table store's
   * bookkeeping for the next write (a store that keeps one copy in one place leaves it out).
   */
  at?: { place: string; rev: number };
}

/** What one check of a pending request's operation changes when it finds the operation still running. */
export interface PendingCheck {
  status: string;
  checks: number;
  nextCheckAt: string;
  /** Why Graph could not be asked, or what it last said; absent when the check went well. */
  error?: ChatRequest['error'];
}

/** A pending request as its last check left it: the row's operation and error, overlaid with the check. */
export function withCheck(request: ChatRequest, check: PendingCheck): ChatRequest {
  const next: ChatRequest = {
    ...request,
    operation: {
      ...request.operation!,
      status: check.status,
      checks: check.checks,
      nextCheckAt: check.nextCheckAt,
    },
  };
  if (check.error) next.error = check.error;
  else delete next.error;
  return next;
}

export interface ListQuery {
  state?: State;
  /** Only requests created at or after this time. */
  since?: Date;
  top: number;
  continuationToken?: string;
}

export interface ListPage {
  items: ChatRequest[];
  continuationToken?: string;
}

export interface DueEntry {
  id: string;
  state: State;
  dueAt?: string;
  /** The request as the listing read it, when asked for (`withRows`) and the store has it at hand. */
  stored?: Stored<ChatRequest>;
}

/** Requests' rows (each its own state index entry) and markers; and, as the same tables hold them, idempotency keys. */
export interface RequestStore extends IdempotencyStore {
  get(id: string): Promise<Stored<ChatRequest> | undefined>;
  /**
   * Insert-if-absent, in the place of the request's state (a request row is its own state index entry);
   * throws AlreadyExistsError carrying the stored request when the id exists. With `reused` (the id came
   * from an idempotency key, not from newRequestId) it also makes sure no finished request has that id.
   */
  create(request: ChatRequest, options?: CreateOptions): Promise<Stored<ChatRequest>>;
  /**
   * `create` for many new requests, in as few writes as the layout allows (in-flight rows share one
   * partition: entity group transactions of 100, each all or nothing). Each result is the stored request or
   * the error its own `create` would have thrown (AlreadyExistsError, StorageUnavailableError, …): one
   * request's failure is never another's.
   */
  createMany(requests: ChatRequest[]): Promise<(Stored<ChatRequest> | Error)[]>;
  /** Conditional replace; throws ConcurrencyConflictError carrying the current row when the ETag is stale. */
  replace(current: Stored<ChatRequest>, next: ChatRequest): Promise<Stored<ChatRequest>>;
  /**
   * Records a check that left a pending request pending (the operation still runs, or Graph could not be
   * asked): the row's operation and error, without moving `updatedAt` (the request did not change).
   * Conditional like `replace`: of two overlapping checks one records; the other gets ConcurrencyConflictError.
   */
  recordCheck(current: Stored<ChatRequest>, check: PendingCheck): Promise<Stored<ChatRequest>>;
  list(query: ListQuery): Promise<ListPage>;
  /**
   * How many requests are in `state`, counting at most `limit` (the ops page's counts); reads only the
   * partition of that state, keys only.
   */
  countState(state: State, limit: number): Promise<{ count: number; capped: boolean }>;
  /** Requests of one state whose dueAt has passed (the poller's work); reads only that state's partition. */
  listDue(state: State, now: Date, limit: number, options?: { withRows?: boolean }): Promise<DueEntry[]>;
  /** Requests written but whose queue message is not known to be sent. */
  markUnsent(ids: string[], now: Date): Promise<void>;
  clearUnsent(id: string): Promise<void>;
  listUnsent(olderThan: Date, limit: number): Promise<string[]>;
  /** Callbacks due for delivery (the timer's share), by a marker written before each attempt. */
  scheduleCallback(id: string, dueAt: Date): Promise<void>;
  clearCallback(id: string): Promise<void>;
  listDueCallbacks(now: Date, limit: number): Promise<string[]>;
  /**
   * Insert-if-absent of "this group chat is request X's"; answers the owner (X, or who claimed it first).
   * Graph does not deduplicate group chats, so two requests for identical chats each need their own: a
   * request looking for the chat its lost POST made skips chats another request owns.
   */
  claimChat(chatId: string, requestId: string): Promise<string>;
  /**
   * Finishes moves whose writer stopped after the deciding write (a final request left in the in-flight
   * partition for longer than any move takes); answers how many it found, at most `limit`.
   */
  finishStrandedMoves(now: Date, limit: number): Promise<number>;
}

export type RequestChanges = Partial<Omit<ChatRequest, 'id' | 'state' | 'createdAt' | 'updatedAt'>>;

/** A final state's callback is first tried at once; the timer takes it over after this if that try was lost. */
export const CALLBACK_HANDOVER_MS = 30_000;

/**
 * The one function that moves a request between states: checks the move is legal and writes it
 * conditionally. Fields set to undefined in `changes` are removed.
 * Reaching a final state (again, after an operator's retry) makes a new callback event: its delivery
 * state starts over, and its due marker is written before the row, so no crash can lose it.
 */
export async function transition(
  store: RequestStore,
  current: Stored<ChatRequest>,
  to: State,
  changes: RequestChanges,
  now: Date,
): Promise<Stored<ChatRequest>> {
  const from = current.value.state;
  if (!canTransition(from, to)) throw new IllegalTransitionError(from, to);
  const next: ChatRequest = { ...current.value, ...changes, state: to, updatedAt: now.toISOString() };
  for (const key of Object.keys(next) as (keyof ChatRequest)[]) {
    if (next[key] === undefined) delete next[key];
  }
  if (isFinal(to) && next.callback) {
    next.callback = { url: next.callback.url, state: 'pending', attempts: 0 };
    await store.scheduleCallback(next.id, new Date(now.getTime() + CALLBACK_HANDOVER_MS));
  }
  return store.replace(current, next);
}

/** Where a request's message goes, and where the marker that it is not yet known to be sent lives. */
export interface MessageDeps {
  store: RequestStore;
  queue: RequestQueue;
}

/** How `sendMessage` sends a written request's message and clears its unsent marker. */
export interface SendOptions {
  /** How long the message stays invisible (a retry's backoff, a `notBefore`); absent: visible at once. */
  delaySeconds?: number;
  /**
   * Clearing the marker after the send: `await` (a failure fails the caller) or `quiet` (awaited, a failure
   * ignored). A marker left behind only costs one more, deduplicated, message.
   */
  clearMarker: 'await' | 'quiet';
}

/**
 * The second half of "move the request, then make sure its message goes out": sends `{id, attempt}` for
 * the request as written, then clears the unsent marker written before the row. A failed send is thrown
 * (the caller fails: the host redelivers, the API answers 503, the tick stops); the marker stays and the
 * timer sends the message.
 */
export async function sendMessage(deps: MessageDeps, request: ChatRequest, options: SendOptions): Promise<void> {
  await deps.queue.send({ id: request.id, attempt: request.attempts }, options.delaySeconds);
  if (options.clearMarker === 'await') await deps.store.clearUnsent(request.id);
  else await deps.store.clearUnsent(request.id).catch(() => undefined);
}

/**
 * Moves a request to a state it runs from (`queued`) and makes sure its message goes out: the unsent
 * marker first, then the move, then the message, then the marker cleared. Whatever fails after the
 * marker (the send, the process), the timer finds the marker and sends the message; a failed send is
 * thrown to the caller. Throws like `transition()` (ConcurrencyConflictError when another writer won).
 */
export async function transitionAndSend(
  deps: MessageDeps,
  current: Stored<ChatRequest>,
  to: State,
  changes: RequestChanges,
  now: Date,
  options: Pick<SendOptions, 'delaySeconds'> = {},
): Promise<Stored<ChatRequest>> {
  await deps.store.markUnsent([current.value.id], now);
  const moved = await transition(deps.store, current, to, changes, now);
  await sendMessage(deps, moved.value, { delaySeconds: options.delaySeconds, clearMarker: 'quiet' });
  return moved;
}

/** True when a conditional write lost to another writer (the caller re-reads and decides). */
export function lostRace(error: unknown): error is ConcurrencyConflictError<Stored<ChatRequest>> {
  return error instanceof ConcurrencyConflictError;
}
