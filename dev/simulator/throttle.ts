/** Token buckets per (tenant, app, kind of call), the units Microsoft Graph throttles Teams calls by. Pure: the clock is injected. */

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

/**
 * The kind of call a bucket counts. Graph's Teams limits table puts them in separate rows, each with its own
 * budget per app per tenant: `POST /chats` is an "Other API call for Microsoft Teams" (30 rps per app per
 * tenant, 300 across tenants); reading a chat, a member's chats or an operation is an "Other GET API call"
 * (30 rps per app per tenant, 1500 across tenants). Reads used up do not slow creates, nor the reverse.
 */
export type CallKind = 'write' | 'read';

/** The Graph default for both rows, in requests per second per app per tenant. */
export const TEAMS_OTHER_CALLS_RPS = 30;

/** Buckets keyed by tenant, app id and kind of call; a rate change starts that kind's buckets afresh. */
export class Throttle {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly rates: Record<CallKind, number>;

  /** `ratePerSecond`: writes (`POST /chats`); `readRatePerSecond`: reads, by default Graph's 30 rps. */
  constructor(
    ratePerSecond: number,
    private readonly clock: Clock,
    readRatePerSecond: number = TEAMS_OTHER_CALLS_RPS,
  ) {
    checkRate(ratePerSecond, 'tenantRps');
    checkRate(readRatePerSecond, 'readRps');
    this.rates = { write: ratePerSecond, read: readRatePerSecond };
  }

  /** The write (create) rate. */
  get rate(): number {
    return this.rates.write;
  }

  get readRate(): number {
    return this.rates.read;
  }

  setRate(ratePerSecond: number, kind: CallKind = 'write'): void {
    checkRate(ratePerSecond, kind === 'write' ? 'tenantRps' : 'readRps');
    this.rates[kind] = ratePerSecond;
    for (const key of [...this.buckets.keys()]) if (key.endsWith(`/${kind}`)) this.buckets.delete(key);
  }

  take(tenantId: string, appId: string, kind: CallKind = 'write'): TakeResult {
    const key = `${tenantId}/${appId}/${kind}`;
    const now = this.clock();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.rates[kind], now);
      this.buckets.set(key, bucket);
    }
    return bucket.take(now);
  }

  reset(): void {
    this.buckets.clear();
  }
}

function checkRate(rate: number, name: string): void {
  if (!(rate > 0)) throw new RangeError(`${name} must be > 0, got ${rate}`);
}

/** The Retry-After value: whole seconds rounded up (at least 1) by default, else milliseconds precision. */
export function retryAfterValue(waitMs: number, decimal: boolean): string {
  if (!decimal) return String(Math.max(1, Math.ceil(waitMs / 1000)));
  const seconds = Math.max(0.001, Math.ceil(waitMs) / 1000);
  return String(Number(seconds.toFixed(3)));
}
