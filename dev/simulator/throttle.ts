/** Token bucket per (tenant, app), the unit Microsoft Graph throttles Teams calls by. Pure: the clock is injected. */

export type Clock = () => number;

export type TakeResult = { allowed: true } | { allowed: false; waitMs: number };

/** A bucket starts full with one second of its rate (at least one token). */
export function burstOf(ratePerSecond: number): number {
  return Math.max(1, ratePerSecond);
}

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;
  readonly capacity: number;

  constructor(
    readonly ratePerSecond: number,
    now: number,
  ) {
    if (!(ratePerSecond > 0)) throw new RangeError(`ratePerSecond must be > 0, got ${ratePerSecond}`);
    this.capacity = burstOf(ratePerSecond);
    this.tokens = this.capacity;
    this.updatedAt = now;
  }

  take(now: number): TakeResult {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, waitMs: ((1 - this.tokens) / this.ratePerSecond) * 1000 };
  }

  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  private refill(now: number): void {
    // A clock that steps backwards must not mint tokens.
    const elapsedMs = Math.max(0, now - this.updatedAt);
    this.tokens = Math.min(this.capacity, this.tokens + (elapsedMs / 1000) * this.ratePerSecond);
    this.updatedAt = Math.max(this.updatedAt, now);
  }
}

/** Buckets keyed by tenant and app id; a rate change starts every bucket afresh at the new rate. */
export class Throttle {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private ratePerSecond: number,
    private readonly clock: Clock,
  ) {
    if (!(ratePerSecond > 0)) throw new RangeError(`tenantRps must be > 0, got ${ratePerSecond}`);
  }

  get rate(): number {
    return this.ratePerSecond;
  }

  setRate(ratePerSecond: number): void {
    if (!(ratePerSecond > 0)) throw new RangeError(`tenantRps must be > 0, got ${ratePerSecond}`);
    this.ratePerSecond = ratePerSecond;
    this.buckets.clear();
  }

  take(tenantId: string, appId: string): TakeResult {
    const key = `${tenantId}/${appId}`;
    const now = this.clock();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.ratePerSecond, now);
      this.buckets.set(key, bucket);
    }
    return bucket.take(now);
  }

  reset(): void {
    this.buckets.clear();
  }
}

/** The Retry-After value: whole seconds rounded up (at least 1) by default, else milliseconds precision. */
export function retryAfterValue(waitMs: number, decimal: boolean): string {
  if (!decimal) return String(Math.max(1, Math.ceil(waitMs / 1000)));
  const seconds = Math.max(0.001, Math.ceil(waitMs) / 1000);
  return String(Number(seconds.toFixed(3)));
}
