/**
 * The chat request and its closed state map. Every state change in the service goes through
 * `transition()`, so the allowed moves are written down once.
 */

export const State = {
  queued: 'queued',
  creating: 'creating',
  pending: 'pending',
  succeeded: 'succeeded',
  failed: 'failed',
} as const;
export type State = (typeof State)[keyof typeof State];
export const STATES: readonly State[] = Object.values(State);

export const FINAL_STATES: ReadonlySet<State> = new Set([State.succeeded, State.failed]);
export function isFinal(state: State): boolean {
  return FINAL_STATES.has(state);
}

/** The one place that lists which moves are legal (from → to). */
const ALLOWED: Record<State, readonly State[]> = {
  // queued → queued: a retryable failure or a notBefore hop re-enqueues with a new nextAttemptAt.
  queued: [State.queued, State.creating, State.failed],
  // creating → queued: retryable failure; → creating: a new attempt takes over a stale one;
  // → succeeded/pending: Graph answered; → failed: permanent.
  creating: [State.queued, State.creating, State.succeeded, State.pending, State.failed],
  // pending → pending: the poller records another check.
  pending: [State.pending, State.succeeded, State.failed],
  succeeded: [],
  // failed → queued: an operator retries it.
  failed: [State.queued],
};

export function canTransition(from: State, to: State): boolean {
  return ALLOWED[from].includes(to);
}

export class IllegalTransitionError extends Error {
  constructor(
    readonly from: State,
    readonly to: State,
  ) {
    super(`A request in state "${from}" cannot move to "${to}"`);
    this.name = 'IllegalTransitionError';
  }
}

export interface Member {
  /** Object id or UPN, as given. */
  user: string;
  role: 'owner' | 'guest';
  tenantId?: string;
}

export interface App {
  teamsAppId: string;
  rscPermissions?: { permissionValue: string; permissionType: 'application' | 'delegated' }[];
}

export interface RequestError {
  code: string;
  message: string;
  httpStatus?: number;
  retryable: boolean;
  graphRequestId?: string;
  clientRequestId?: string;
}

export interface CallbackStatus {
  url: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastError?: string;
  nextAttemptAt?: string;
}

/** Why an unfinished request waits (shared/use-cases/waiting.ts decides). */
export const WAITING_REASONS = [
  'notBefore',
  'newHireGrace',
  'retryBackoff',
  'throttled',
  'operationPending',
  'leased',
  'inQueue',
] as const;
export type WaitingReason = (typeof WAITING_REASONS)[number];

export interface Waiting {
  reason: WaitingReason;
  /** When the wait is expected to end (ISO 8601), when that is known. */
  until?: string;
  /** One sentence for a person. */
  message: string;
}

/** The request resource as the API shows it (docs/api.md). */
export interface ChatRequestResource {
  id: string;
  externalId?: string;
  state: State;
  chatType: 'oneOnOne' | 'group';
  topic?: string;
  members: Member[];
  apps?: App[];
  notBefore?: string;
  createdAt: string;
  updatedAt: string;
  attempts: number;
  nextAttemptAt?: string;
  chat?: { id: string; webUrl?: string; createdDateTime?: string; tenantId?: string };
  operation?: { location: string; status: string; checks: number; nextCheckAt?: string; startedAt?: string };
  error?: RequestError;
  callback?: CallbackStatus;
  /** Why an unfinished request waits (computed when it is read, never stored; shared/use-cases/waiting.ts). */
  waiting?: Waiting;
}

/** What the store keeps: the resource plus what only the service needs. */
export interface ChatRequest extends ChatRequestResource {
  /** The canonical Graph create-chat body, sent as it is. */
  graphBody: GraphCreateChatBody;
  /** sha256 of the canonical payload, for idempotent replays. */
  payloadHash: string;
  /** When the attempt now in flight started (the worker looks for a chat it may have made since). */
  attemptStartedAt?: string;
  /** When the first attempt hit "user not found / no license" (grace window for new hires). */
  graceStartedAt?: string;
  /** Set when an attempt ended without knowing if Graph made the chat: the next attempt looks first. */
  outcomeUnknownSince?: string;
  /** Transient failures (5xx, timeouts) so far; bounded by the retry policy. */
  transientFailures?: number;
}

/** Microsoft Graph create-chat body (what is sent to POST /chats). */
export interface GraphCreateChatBody {
  chatType: 'oneOnOne' | 'group';
  topic?: string;
  members: GraphMember[];
  installedApps?: GraphInstalledApp[];
  [key: string]: unknown;
}

export interface GraphMember {
  '@odata.type': '#microsoft.graph.aadUserConversationMember';
  roles: string[];
  'user@odata.bind': string;
  tenantId?: string;
  [key: string]: unknown;
}

export interface GraphInstalledApp {
  'teamsApp@odata.bind': string;
  consentedPermissionSet?: {
    resourceSpecificPermissions: { permissionValue: string; permissionType: string }[];
  };
  [key: string]: unknown;
}

/** Fields the store keeps that the API never shows. */
const INTERNAL_FIELDS = [
  'graphBody',
  'payloadHash',
  'attemptStartedAt',
  'graceStartedAt',
  'outcomeUnknownSince',
  'transientFailures',
] as const satisfies readonly (keyof ChatRequest)[];

/** The API view of a stored request (drops internal fields). */
export function toResource(request: ChatRequest): ChatRequestResource {
  const resource: Record<string, unknown> = { ...request };
  for (const field of INTERNAL_FIELDS) delete resource[field];
  return resource as unknown as ChatRequestResource;
}
