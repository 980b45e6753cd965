import { aimdSettings, FleetRate, initialFleetRate, onThrottle, regain } from '../../shared/core/rate/aimd';
import { GraphRateGate } from '../../shared/core/rate/gate';
import { MemoryFleetRateStore } from '../support/memory-store';

describe('AIMD', () => {
  const settings = aimdSettings(100);

  it('cuts multiplicatively, not below what Graph accepted, and holds against echo 429s', () => {
    const start = initialFleetRate(settings, 0);
    const cut = onThrottle(start, settings, 10_000, 1000);
    expect(cut.rate).toBeCloseTo(70);
    expect(cut.pausedUntil).toBe(11_000);
    const echo = onThrottle(cut, settings, 10_200, 500);
    expect(echo.rate).toBe(cut.rate);
    const informed = onThrottle(start, settings, 10_000, 1000, 30);
    expect(informed.rate).toBeCloseTo(28.5);
    // Near the ceiling a sample keeps the cut small: 20/s sent, 19.5/s accepted → 18.5, not 14.
    const near = onThrottle({ ...start, rate: 20 }, settings, 10_000, 1000, 19.5);
    expect(near.rate).toBeCloseTo(18.525);
  });

  it('regains slowly, by the learned rate and not the configured maximum, up to the maximum', () => {
    const low: FleetRate = { rate: 10, pausedUntil: 0, lastDecreaseAt: 0, lastIncreaseAt: 0 };
    expect(regain(low, settings, 500).rate).toBe(10);
    // 10/s: the floor of 0.2/s a second; 50/s: 1% a second. A maximum of 1000 changes neither.
    expect(regain(low, settings, 10_000).rate).toBeCloseTo(12);
    expect(regain(low, aimdSettings(1000), 10_000).rate).toBeCloseTo(12);
    expect(regain({ ...low, rate: 50 }, aimdSettings(1000), 10_000).rate).toBeCloseTo(55);
    expect(regain(low, settings, 10_000_000).rate).toBe(100);
  });
});

describe('GraphRateGate', () => {
  it('shares a 429 with every instance through the store', async () => {
    // Prepare: two instances on one shared store, a controllable clock.
    let now = 1_000_000;
    const store = new MemoryFleetRateStore();
    const a = new GraphRateGate(aimdSettings(50), store, 'a', () => now);
    const b = new GraphRateGate(aimdSettings(50), store, 'b', () => now);
    expect(await a.acquire(0)).toEqual({ ok: true });
    // Act: a is throttled with a 5 s Retry-After.
    await a.recordThrottle(5_000);
    now += 1_500;
    // Assess: b, which never saw a 429, is paused too and sees the lower rate.
    const admission = await b.acquire(0);
    expect(admission.ok).toBe(false);
    expect(!admission.ok && admission.retryInMs).toBeGreaterThan(3_000);
    expect(b.fleetRate).toBeLessThan(50);
  });

  it('a 429 after a handful of accepted calls is a plain cut; after many, a cut to what Graph accepted', async () => {
    let now = 1_000_000;
    const quiet = new GraphRateGate(aimdSettings(20), new MemoryFleetRateStore(), 'quiet', () => now);
    quiet.recordAccepted();
    await quiet.recordThrottle(1000);
    expect(quiet.fleetRate).toBeCloseTo(14);

    const busy = new GraphRateGate(aimdSettings(20), new MemoryFleetRateStore(), 'busy', () => now);
    for (let i = 0; i < 8; i += 1) {
      busy.recordAccepted();
      now += 200;
    }
    await busy.recordThrottle(1000);
    expect(busy.fleetRate).toBeCloseTo(0.95 * 4);
  });

  it('spaces calls at the local share of the rate', async () => {
    let now = 0;
    const gate = new GraphRateGate(aimdSettings(2), new MemoryFleetRateStore(), 'solo', () => now);
    expect((await gate.acquire(0)).ok).toBe(true);
    const next = await gate.acquire(0);
    expect(next.ok).toBe(false);
    expect(!next.ok && next.retryInMs).toBeGreaterThan(0);
    now += 600;
    expect((await gate.acquire(0)).ok).toBe(true);
  });
});
