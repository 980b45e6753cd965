import { retryAfterValue, Throttle, TokenBucket } from '../../dev/simulator/throttle';

describe('TokenBucket', () => {
  it('allows a burst of max(1, rps) and then refuses with the wait until the next token', () => {
    // Prepare
    const bucket = new TokenBucket(4, 0);
    // Act
    const results = [1, 2, 3, 4, 5].map(() => bucket.take(0));
    // Assess
    expect(results.slice(0, 4).every((r) => r.allowed)).toBe(true);
    expect(results[4]).toEqual({ allowed: false, waitMs: 250 });
  });

  it('refills at the rate over time and never above capacity', () => {
    const bucket = new TokenBucket(2, 0);
    bucket.take(0);
    bucket.take(0);
    expect(bucket.take(0).allowed).toBe(false);
    expect(bucket.take(500).allowed).toBe(true);
    expect(bucket.take(500).allowed).toBe(false);
    expect(bucket.available(60_000)).toBe(2);
  });

  it('keeps a burst of 1 for fractional rates and waits the full interval', () => {
    const bucket = new TokenBucket(0.5, 0);
    expect(bucket.capacity).toBe(1);
    expect(bucket.take(0).allowed).toBe(true);
    expect(bucket.take(0)).toEqual({ allowed: false, waitMs: 2000 });
    expect(bucket.take(1999).allowed).toBe(false);
    expect(bucket.take(2000).allowed).toBe(true);
  });

  it('does not mint tokens when the clock steps back', () => {
    const bucket = new TokenBucket(1, 10_000);
    expect(bucket.take(10_000).allowed).toBe(true);
    expect(bucket.take(5_000).allowed).toBe(false);
    expect(bucket.take(10_500).allowed).toBe(false);
  });

  it('rejects a non-positive rate', () => {
    expect(() => new TokenBucket(0, 0)).toThrow(RangeError);
  });
});

describe('Throttle', () => {
  it('keeps one bucket per (tenant, app)', () => {
    let now = 0;
    const throttle = new Throttle(1, () => now);
    expect(throttle.take('t1', 'a1').allowed).toBe(true);
    expect(throttle.take('t1', 'a1').allowed).toBe(false);
    expect(throttle.take('t1', 'a2').allowed).toBe(true);
    expect(throttle.take('t2', 'a1').allowed).toBe(true);
    now = 1000;
    expect(throttle.take('t1', 'a1').allowed).toBe(true);
  });

  it("gives reads and writes separate budgets, as Graph's Teams limits table does", () => {
    const throttle = new Throttle(1, () => 0, 2);
    expect(throttle.take('t', 'a', 'write').allowed).toBe(true);
    expect(throttle.take('t', 'a', 'write').allowed).toBe(false);
    // Creates used up: reads still have their own two.
    expect([1, 2, 3].map(() => throttle.take('t', 'a', 'read').allowed)).toEqual([true, true, false]);
    expect(throttle.readRate).toBe(2);
    throttle.setRate(5, 'read');
    expect(throttle.take('t', 'a', 'read').allowed).toBe(true);
    expect(throttle.take('t', 'a', 'write').allowed).toBe(false);
  });

  it('reads at 30 rps per app per tenant by default ("Other GET API calls for Microsoft Teams")', () => {
    const throttle = new Throttle(1, () => 0);
    const allowed = Array.from({ length: 31 }, () => throttle.take('t', 'a', 'read').allowed);
    expect(allowed.filter(Boolean)).toHaveLength(30);
  });

  it('starts fresh buckets at a new rate', () => {
    const throttle = new Throttle(1, () => 0);
    throttle.take('t', 'a');
    throttle.setRate(3);
    const allowed = [1, 2, 3, 4].map(() => throttle.take('t', 'a').allowed);
    expect(allowed).toEqual([true, true, true, false]);
    expect(throttle.rate).toBe(3);
  });
});

describe('retryAfterValue', () => {
  it('rounds up to whole seconds, at least 1, by default', () => {
    expect(retryAfterValue(1, false)).toBe('1');
    expect(retryAfterValue(1000, false)).toBe('1');
    expect(retryAfterValue(1001, false)).toBe('2');
  });

  it('gives millisecond decimals when asked', () => {
    expect(retryAfterValue(500, true)).toBe('0.5');
    expect(retryAfterValue(2127.2, true)).toBe('2.128');
    expect(retryAfterValue(0, true)).toBe('0.001');
  });
});
