import { PollingInterval } from '../../dev/host/polling-interval';

describe('PollingInterval', () => {
  it('backs off exponentially above the minimum, up to the maximum, while empty', () => {
    const interval = new PollingInterval(100, 1_000, () => 0.5);
    const delays = Array.from({ length: 6 }, () => interval.next(false));
    expect(delays).toEqual([100, 200, 300, 500, 900, 1_000]);
  });

  it('resets to the minimum when messages were found', () => {
    const interval = new PollingInterval(100, 1_000, () => 0.5);
    interval.next(false);
    interval.next(false);
    expect(interval.next(true)).toBe(100);
    expect(interval.next(false)).toBe(200);
  });

  it('randomizes each step by ±20 %', () => {
    const low = new PollingInterval(100, 10_000, () => 0);
    const high = new PollingInterval(100, 10_000, () => 1);
    [low, high].forEach((i) => i.next(true));
    expect(low.next(false)).toBeCloseTo(180);
    expect(high.next(false)).toBeCloseTo(220);
  });
});
