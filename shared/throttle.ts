import { TableClient } from '@azure/data-tables';
import { asStorageError, isConflict, isNotFound, isPreconditionFailed } from './errors';
import { recordThrottled } from './telemetry';

/**
 * The send rate to Graph, shared by every worker of the app. Graph's real ceiling for POST /chats
 * is not published clearly (NOTES.md), so the rate adapts: it starts at GRAPH_MAX_RPS, is cut on a
 * 429 to just under what Graph was accepting before it (by 30% without enough calls to tell) and
 * regained slowly (1% a second, at least 0.2/s). A 429 also pauses every worker for its Retry-After.
 * The fleet's state lives in one row of the work table; each instance sends its share (fleet rate ÷
 * live instances, counted by heartbeats in the same table).
 */

export interface FleetRate {
  /** Requests per second for the whole app. */
  rate: number;
  /** No worker calls Graph before this time (ms since epoch). */
  pausedUntil: number;
  lastDecreaseAt: number;
  lastIncreaseAt: number;
}

export interface AimdSettings {
  maxRate: number;
  minRate: number;
  /** Multiplicative cut on a 429. */
  decrease: number;
  /** Regain per second without a 429, in requests per second: at least this much… */
  increasePerSecond: number;
  /** …or this fraction of the current rate, whichever is more. */
  increaseFraction: number;
  /** 429s within this window after a cut are echoes of the same overload, not a new signal. */
  decreaseHoldMs: number;
}

export function aimdSettings(maxRate: number): AimdSettings {
  return {
    maxRate,
    minRate: Math.min(0.5, maxRate),
    decrease: 0.7,
    // The regain follows the rate the fleet has learned, not the configured maximum: with GRAPH_MAX_RPS far
    // above the real ceiling, a regain scaled to the maximum overshoots the ceiling within a second of each
    // cut (measured: 2.5-3.7% of calls answered 429 at a 20/s ceiling with GRAPH_MAX_RPS=1000).
    increasePerSecond: 0.2,
    increaseFraction: 0.01,
    decreaseHoldMs: 1_000,
  };
}

export function initialFleetRate(settings: AimdSettings, now: number): FleetRate {
  return { rate: settings.maxRate, pausedUntil: 0, lastDecreaseAt: 0, lastIncreaseAt: now };
}

/** A 429: cut the rate (to no less than `acceptedRate` × 0.95 when known) and pause everyone. */
export function onThrottle(
  state: FleetRate,
  settings: AimdSettings,
  now: number,
  retryAfterMs: number,
  acceptedRate?: number,
): FleetRate {
  const pausedUntil = Math.max(state.pausedUntil, now + retryAfterMs);
  if (now - state.lastDecreaseAt < settings.decreaseHoldMs) return { ...state, pausedUntil };
  // What Graph accepted just before the 429 is the best estimate of its ceiling: cut to just under it, down
  // from far above and no lower from near it (a blind 30% cut there loses throughput for every cycle after).
  // Without a useful sample (a handful of calls), the plain multiplicative cut.
  const informed = acceptedRate !== undefined && acceptedRate > 0;
  let rate = informed ? Math.min(state.rate, acceptedRate * 0.95) : state.rate * settings.decrease;
  rate = Math.max(settings.minRate, rate);
  return { rate, pausedUntil, lastDecreaseAt: now, lastIncreaseAt: now };
}

/** Time without a 429 regains the rate slowly (1% a second, at least 0.2/s), up to the configured maximum. */
export function regain(state: FleetRate, settings: AimdSettings, now: number): FleetRate {
  const seconds = (now - state.lastIncreaseAt) / 1000;
  if (seconds < 1 || state.rate >= settings.maxRate) return state;
  return {
    ...state,
    rate: Math.min(
      settings.maxRate,
      state.rate + Math.max(settings.increasePerSecond, state.rate * settings.increaseFraction) * seconds,
    ),
    lastIncreaseAt: now,
  };
}

export interface FleetRateStore {
  read(): Promise<{ state: FleetRate; etag?: string } | undefined>;
  /** Conditional write (insert when no etag); false when another instance wrote first. */
  write(state: FleetRate, etag?: string): Promise<boolean>;
  heartbeat(instanceId: string, now: number): Promise<void>;
  liveInstances(now: number): Promise<number>;
}

const SYNC_INTERVAL_MS = 1_000;
/** Accepted calls in the 2 s before a 429 needed to read them as Graph's ceiling. */
const MIN_ACCEPTED_SAMPLE = 4;
const HEARTBEAT_INTERVAL_MS = 5_000;
/** A heartbeat this old belongs to an instance that is gone for good. */
const FORGET_INSTANCE_MS = 60 * 60_000;

export type Admission = { ok: true } | { ok: false; retryInMs: number };

/**
 * This instance's gate in front of Graph: a local token bucket at its share of the fleet rate,
 * synchronised with the shared row about once a second.
 */
export class GraphRateGate {
  private state: FleetRate;
  private etag: string | undefined;
  private instances = 1;
  private tokens = 1;
  private lastRefill: number;
  private lastSync = 0;
  private lastHeartbeat = 0;
  private syncing: Promise<void> | undefined;
  /** Timestamps of recent accepted calls, to estimate the ceiling Graph allowed. */
  private accepted: number[] = [];

  constructor(
    private readonly settings: AimdSettings,
    private readonly store: FleetRateStore,
    private readonly instanceId: string,
    private readonly clock: () => number = Date.now,
  ) {
    const now = clock();
    this.state = initialFleetRate(settings, now);
    this.lastRefill = now;
  }

  get fleetRate(): number {
    return this.state.rate;
  }

  /** No call to Graph before this time (ms since epoch), as this instance last saw the fleet row. */
  get pausedUntil(): number {
    return this.state.pausedUntil;
  }

  /** Waits for a send slot up to `maxWaitMs`; beyond that tells the caller when to come back. */
  async acquire(maxWaitMs: number): Promise<Admission> {
    await this.syncIfDue();
    for (;;) {
      const now = this.clock();
      const share = Math.max(this.settings.minRate / this.instances, this.state.rate / this.instances);
      this.tokens = Math.min(Math.max(1, share / 4), this.tokens + ((now - this.lastRefill) / 1000) * share);
      this.lastRefill = now;
      const pauseLeft = this.state.pausedUntil - now;
      const tokenWait = this.tokens >= 1 ? 0 : ((1 - this.tokens) / share) * 1000;
      const wait = Math.max(pauseLeft, tokenWait);
      if (wait <= 0) {
        this.tokens -= 1;
        return { ok: true };
      }
      if (wait > maxWaitMs) return { ok: false, retryInMs: Math.ceil(wait) };
      await sleep(Math.min(wait, 250));
      await this.syncIfDue();
    }
  }

  recordAccepted(): void {
    const now = this.clock();
    this.accepted.push(now);
    if (this.accepted.length > 4096) this.accepted.splice(0, this.accepted.length - 4096);
  }

  /** A 429: cut the fleet rate and pause everyone; shared at once. */
  async recordThrottle(retryAfterMs: number): Promise<void> {
    recordThrottled();
    const now = this.clock();
    const windowStart = now - 2_000;
    const recent = this.accepted.filter((t) => t >= windowStart).length;
    // A handful of calls says what demand was, not where Graph's ceiling is: then only the plain cut.
    const acceptedRate = recent >= MIN_ACCEPTED_SAMPLE ? (recent / 2) * this.instances : undefined;
    this.state = onThrottle(this.state, this.settings, now, retryAfterMs, acceptedRate);
    this.tokens = 0;
    await this.publish((shared) => onThrottle(shared, this.settings, now, retryAfterMs, acceptedRate));
  }

  private async syncIfDue(): Promise<void> {
    const now = this.clock();
    if (now - this.lastSync < SYNC_INTERVAL_MS) return;
    this.syncing ??= this.sync(now).finally(() => {
      this.syncing = undefined;
    });
    await this.syncing;
  }

  private async sync(now: number): Promise<void> {
    this.lastSync = now;
    try {
      if (now - this.lastHeartbeat >= HEARTBEAT_INTERVAL_MS) {
        this.lastHeartbeat = now;
        await this.store.heartbeat(this.instanceId, now);
        this.instances = Math.max(1, await this.store.liveInstances(now));
      }
      await this.publish((shared) => regain(shared, this.settings, now));
    } catch {
      // The shared row is an optimisation: with storage down the local state still limits this instance.
    }
  }

  /** Read-modify-write of the shared row with a few conditional attempts. */
  private async publish(change: (shared: FleetRate) => FleetRate): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const current = await this.store.read();
      const base = current?.state ?? this.state;
      const next = change(base);
      if (next === base && current) {
        this.state = base;
        this.etag = current.etag;
        return;
      }
      if (await this.store.write(next, current?.etag)) {
        this.state = next;
        return;
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The fleet row and instance heartbeats, in the requests table. */
export class TableFleetRateStore implements FleetRateStore {
  constructor(private readonly table: TableClient) {}

  async read(): Promise<{ state: FleetRate; etag?: string } | undefined> {
    try {
      const entity = await this.table.getEntity<Record<string, unknown>>('throttle', 'graph');
      return {
        state: {
          rate: Number(entity.rate),
          pausedUntil: Number(entity.pausedUntil),
          lastDecreaseAt: Number(entity.lastDecreaseAt),
          lastIncreaseAt: Number(entity.lastIncreaseAt),
        },
        etag: entity.etag,
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      return asStorageError(error, 'read fleet rate');
    }
  }

  async write(state: FleetRate, etag?: string): Promise<boolean> {
    const entity = { partitionKey: 'throttle', rowKey: 'graph', ...state };
    try {
      if (etag) await this.table.updateEntity(entity, 'Replace', { etag });
      else await this.table.createEntity(entity);
      return true;
    } catch (error) {
      if (isPreconditionFailed(error) || isConflict(error)) return false;
      return asStorageError(error, 'write fleet rate');
    }
  }

  async heartbeat(instanceId: string, now: number): Promise<void> {
    await this.table.upsertEntity({ partitionKey: 'throttle-instances', rowKey: instanceId, seenAt: now }, 'Replace');
  }

  async liveInstances(now: number): Promise<number> {
    let count = 0;
    const since = now - 3 * HEARTBEAT_INTERVAL_MS;
    const gone: string[] = [];
    for await (const entity of this.table.listEntities<{ seenAt: number }>({
      queryOptions: { filter: `PartitionKey eq 'throttle-instances'`, select: ['RowKey', 'seenAt'] },
    })) {
      if (entity.seenAt >= since) count += 1;
      else if (entity.seenAt < now - FORGET_INSTANCE_MS && entity.rowKey) gone.push(entity.rowKey);
    }
    // Instances that scaled in long ago leave their row behind: clear a few per count so the partition stays small.
    await Promise.all(
      gone.slice(0, 20).map((rowKey) => this.table.deleteEntity('throttle-instances', rowKey).catch(() => undefined)),
    );
    return count;
  }
}
