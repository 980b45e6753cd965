import { recordThrottled } from '../../platform/telemetry';
import { type AimdSettings, type FleetRate, initialFleetRate, onThrottle, regain } from './aimd';
import { type FleetRateStore, HEARTBEAT_INTERVAL_MS } from './fleet-rate-store';

const SYNC_INTERVAL_MS = 1_000;
/** Accepted calls in the 2 s before a 429 needed to read them as Graph's ceiling. */
const MIN_ACCEPTED_SAMPLE = 4;

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
