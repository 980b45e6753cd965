import { AlreadyExistsError, ConcurrencyConflictError } from '../../shared/core/errors';
import type { IdempotencyRecord } from '../../shared/core/idempotency';
import { ChatRequest, State } from '../../shared/core/model';
import {
  DueEntry,
  ListPage,
  ListQuery,
  PendingCheck,
  RequestStore,
  Stored,
  withCheck,
} from '../../shared/core/request-store';
import { RequestMessage, RequestQueue } from '../../shared/core/queue/port';
import { FleetRate } from '../../shared/core/rate/aimd';
import { FleetRateStore, InstanceReport, LIVE_INSTANCE_MS } from '../../shared/core/rate/fleet-rate-store';

/** A hand-written fake of the RequestStore port with the same race rules (put-if-absent, ETags). */
export class MemoryRequestStore implements RequestStore {
  readonly rows = new Map<string, Stored<ChatRequest>>();
  readonly keys = new Map<string, IdempotencyRecord>();
  readonly unsent = new Map<string, Date>();
  readonly callbacks = new Map<string, Date>();
  readonly chatOwners = new Map<string, string>();
  private version = 0;

  private clone(request: ChatRequest): ChatRequest {
    return JSON.parse(JSON.stringify(request)) as ChatRequest;
  }

  async get(id: string): Promise<Stored<ChatRequest> | undefined> {
    const row = this.rows.get(id);
    return row ? { value: this.clone(row.value), etag: row.etag } : undefined;
  }

  async create(request: ChatRequest): Promise<Stored<ChatRequest>> {
    const existing = this.rows.get(request.id);
    if (existing) throw new AlreadyExistsError('exists', { value: this.clone(existing.value), etag: existing.etag });
    const stored = { value: this.clone(request), etag: `v${++this.version}` };
    this.rows.set(request.id, stored);
    return { value: this.clone(request), etag: stored.etag };
  }

  async createMany(requests: ChatRequest[]): Promise<(Stored<ChatRequest> | Error)[]> {
    return Promise.all(requests.map((r) => this.create(r).catch((e: unknown) => e as Error)));
  }

  async replace(current: Stored<ChatRequest>, next: ChatRequest): Promise<Stored<ChatRequest>> {
    const row = this.rows.get(next.id);
    if (!row || row.etag !== current.etag) throw new ConcurrencyConflictError('changed', row && { ...row });
    const stored = { value: this.clone(next), etag: `v${++this.version}` };
    this.rows.set(next.id, stored);
    return { value: this.clone(next), etag: stored.etag };
  }

  /** The check is kept on the row itself (the table store keeps it beside it); updatedAt stays. */
  async recordCheck(current: Stored<ChatRequest>, check: PendingCheck): Promise<Stored<ChatRequest>> {
    return this.replace(current, withCheck(current.value, check));
  }

  async claimKey(key: string, record: IdempotencyRecord): Promise<void> {
    const existing = this.keys.get(key);
    if (existing) throw new AlreadyExistsError('taken', { ...existing });
    this.keys.set(key, { ...record });
  }

  async claimChat(chatId: string, requestId: string): Promise<string> {
    if (!this.chatOwners.has(chatId)) this.chatOwners.set(chatId, requestId);
    return this.chatOwners.get(chatId)!;
  }

  async findKey(key: string): Promise<IdempotencyRecord | undefined> {
    return this.keys.get(key);
  }

  async list(query: ListQuery): Promise<ListPage> {
    const items = [...this.rows.values()]
      .map((r) => r.value)
      .filter((r) => !query.state || r.state === query.state)
      .sort((a, b) => (a.id < b.id ? 1 : -1));
    return { items: items.slice(0, query.top).map((r) => this.clone(r)) };
  }

  async countState(state: State, limit: number): Promise<{ count: number; capped: boolean }> {
    const count = [...this.rows.values()].filter((r) => r.value.state === state).length;
    return count >= limit ? { count: limit, capped: true } : { count, capped: false };
  }

  async listDue(state: State, now: Date, limit: number): Promise<DueEntry[]> {
    return [...this.rows.values()]
      .map((r) => r.value)
      .filter((r) => r.state === state)
      .filter((r) => {
        const due =
          state === State.pending
            ? r.operation?.nextCheckAt
            : state === State.creating
              ? r.attemptStartedAt
              : r.nextAttemptAt;
        return Date.parse(due ?? r.updatedAt) <= now.getTime();
      })
      .slice(0, limit)
      .map((r) => ({ id: r.id, state }));
  }

  async markUnsent(ids: string[], now: Date): Promise<void> {
    for (const id of ids) this.unsent.set(id, now);
  }

  async clearUnsent(id: string): Promise<void> {
    this.unsent.delete(id);
  }

  async listUnsent(olderThan: Date, limit: number): Promise<string[]> {
    return [...this.unsent.entries()]
      .filter(([, at]) => at <= olderThan)
      .slice(0, limit)
      .map(([id]) => id);
  }

  async scheduleCallback(id: string, dueAt: Date): Promise<void> {
    this.callbacks.set(id, dueAt);
  }

  async clearCallback(id: string): Promise<void> {
    this.callbacks.delete(id);
  }

  async listDueCallbacks(now: Date, limit: number): Promise<string[]> {
    return [...this.callbacks.entries()]
      .filter(([, at]) => at <= now)
      .slice(0, limit)
      .map(([id]) => id);
  }

  /** One copy in one place: no move can be left half done. */
  async finishStrandedMoves(): Promise<number> {
    return 0;
  }
}

export class MemoryQueue implements RequestQueue {
  readonly sent: { message: RequestMessage; delaySeconds: number }[] = [];
  async send(message: RequestMessage, delaySeconds = 0): Promise<void> {
    this.sent.push({ message: { ...message }, delaySeconds });
  }
}

/** The shared fleet-rate row, in memory, with ETag semantics. */
export class MemoryFleetRateStore implements FleetRateStore {
  state: FleetRate | undefined;
  version = 0;
  instances = new Map<string, InstanceReport>();
  async read() {
    return this.state ? { state: { ...this.state }, etag: String(this.version) } : undefined;
  }
  async write(state: FleetRate, etag?: string) {
    if ((etag ?? undefined) !== (this.state ? String(this.version) : undefined)) return false;
    this.state = { ...state };
    this.version += 1;
    return true;
  }
  async heartbeat(report: InstanceReport) {
    this.instances.set(report.instanceId, { ...report });
  }
  async liveInstances(now: number) {
    return [...this.instances.values()].filter((r) => r.seenAt >= now - LIVE_INSTANCE_MS).map((r) => ({ ...r }));
  }
}
