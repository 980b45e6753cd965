import { aimdSettings, FleetRate, GraphRateGate, initialFleetRate, onThrottle, regain } from '../../shared/throttle';
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
  });

  it('regains additively up to the maximum', () => {
    const low: FleetRate = { rate: 10, pausedUntil: 0, lastDecreaseAt: 0, lastIncreaseAt: 0 };
    expect(regain(low, settings, 500).rate).toBe(10);
    expect(regain(low, settings, 10_000).rate).toBeCloseTo(10 + settings.increasePerSecond * 10);
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
