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

  it('within the hold, only a full sample far below the rate still cuts (the echoed cut was blind)', () => {
    const blind = onThrottle(initialFleetRate(settings, 0), settings, 10_000, 1000);
    expect(blind.rate).toBeCloseTo(70);
    // 200 ms later another instance's 429 with a full sample of 20/s: 19 < 70 × 0.5, so it cuts, hold kept.
    const informed = onThrottle(blind, settings, 10_200, 1000, 20);
    expect(informed.rate).toBeCloseTo(19);
    expect(informed.lastDecreaseAt).toBe(10_000);
    // A sample near the rate, or a partial one, is an echo as before.
    expect(onThrottle(blind, settings, 10_200, 1000, 60).rate).toBeCloseTo(70);
    expect(onThrottle(blind, settings, 10_200, 1000, 20, false).rate).toBeCloseTo(70);
  });

  it('once the rate is learned, a sample taken in a stall softens a cut but never deepens it below × 0.7', () => {
    // Prepare: the first informed cut learns the rate (1000/s blind → 20.9/s), which then climbs to 21.4/s.
    const big = aimdSettings(1000);
    const learned = onThrottle(initialFleetRate(big, 0), big, 10_000, 1000, 22);
    expect(learned).toMatchObject({ learnedAt: 10_000 });
    expect(learned.rate).toBeCloseTo(20.9);
    const climbed = { ...learned, rate: 21.4 };

    // Act: a 429 after a stall, when the fleet got only 7.5/s accepted in the last 2 s.
    const stalled = onThrottle(climbed, big, 60_000, 1000, 7.5);
    // …and one when the fleet was sending at its rate: the sample may still soften the cut.
    const busy = onThrottle(climbed, big, 60_000, 1000, 21);

    // Assess
    expect(stalled.rate).toBeCloseTo(21.4 * 0.7);
    expect(busy.rate).toBeCloseTo(19.95);
    // Within the hold, a learned rate takes no override from a low sample either.
    expect(onThrottle(stalled, big, 60_200, 1000, 3).rate).toBeCloseTo(stalled.rate);
    // Back at the maximum, the next estimate may cut deep again.
    const recovered = regain({ ...stalled, rate: 999 }, big, 70_000);
    expect(recovered).toMatchObject({ rate: 1000, learnedAt: 0 });
    expect(onThrottle(recovered, big, 80_000, 1000, 22).rate).toBeCloseTo(20.9);
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

  it('429s of one overload (the calls in flight) make one cut and one write of the shared row', async () => {
    let now = 1_000_000;
    const store = new MemoryFleetRateStore();
    const gate = new GraphRateGate(aimdSettings(20), store, 'solo', () => now);
    for (let i = 0; i < 8; i += 1) {
      gate.recordAccepted();
      now += 200;
    }
    await Promise.all([1, 2, 3, 4, 5].map(() => gate.recordThrottle(1_000)));
    now += 20;
    await gate.recordThrottle(1_000);
    expect(store.version).toBe(1);
    expect(store.state!.rate).toBeCloseTo(0.95 * 4);
    // A later Retry-After that extends the pause is shared.
    now += 10;
    await gate.recordThrottle(3_000);
    expect(store.version).toBe(2);
    expect(store.state!.pausedUntil).toBe(now + 3_000);
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

describe('GraphRateGate: what the fleet accepted, from every instance', () => {
  const STEP_MS = 125; // 8 calls a second

  /** `busy` instances each get a call accepted every 125 ms for `ms`; every call goes through acquire. */
  async function work(busy: GraphRateGate[], ms: number, advance: (ms: number) => void): Promise<void> {
    for (let t = 0; t < ms; t += STEP_MS) {
      for (const gate of busy) {
        expect((await gate.acquire(0)).ok).toBe(true);
        gate.recordAccepted();
      }
      advance(STEP_MS);
    }
  }

  it('an instance that had little work: its 429 cuts to what the fleet was getting accepted, not its own share × instances', async () => {
    // Prepare: three instances, rate 30 (10/s each); a and b busy at 8/s for 3 s, c with 4 calls in the last 2 s.
    let now = 1_000_000;
    const store = new MemoryFleetRateStore();
    const [a, b, c] = ['a', 'b', 'c'].map((id) => new GraphRateGate(aimdSettings(30), store, id, () => now));
    for (const gate of [a!, b!, c!]) await gate.acquire(0);
    now += STEP_MS;
    await work([a!, b!], 1_500, (ms) => (now += ms));
    for (let i = 0; i < 4; i += 1) {
      await work([a!, b!], 250, (ms) => (now += ms));
      expect((await c!.acquire(0)).ok).toBe(true);
      c!.recordAccepted();
    }

    // Act: c gets a 429.
    await c!.recordThrottle(1_000);

    // Assess: about 16 + 16 + 4 calls in the last 2 s → ~18/s → cut to ~17. The old estimate (c's own 2/s
    // × 3 instances = 6/s) cut to 5.7.
    expect(c!.fleetRate).toBeGreaterThan(0.95 * 16);
    expect(c!.fleetRate).toBeLessThanOrEqual(0.95 * 20);
    expect((await store.read())!.state.rate).toBe(c!.fleetRate);
  });

  it('at start-up (the others have not reported a call yet): taken to run as this one, given enough calls', async () => {
    let now = 1_000_000;
    const store = new MemoryFleetRateStore();
    const [a, b, c] = ['a', 'b', 'c'].map((id) => new GraphRateGate(aimdSettings(100), store, id, () => now));
    for (const gate of [a!, b!, c!]) await gate.acquire(0);
    // a got 12 calls through in its first 300 ms, then a 429; b and c reported at their first slot, before any
    // call of theirs: their share of what Graph accepted is not known yet.
    for (let i = 0; i < 12; i += 1) a!.recordAccepted();
    now += 300;

    await a!.recordThrottle(1_000);

    // a: 12 calls over 0.5 s (the shortest span read) = 24/s, b and c taken as the same → 72/s → 68.4. Over
    // the whole 2 s window × 3 instances (the old estimate) it read 18/s and cut to 17.1 on 300 ms of burst.
    expect(a!.fleetRate).toBeCloseTo(0.95 * 72);
  });

  it('at start-up with only a few calls of its own to go by: never deeper than the plain cut', async () => {
    let now = 1_000_000;
    const store = new MemoryFleetRateStore();
    const [a, b, c] = ['a', 'b', 'c'].map((id) => new GraphRateGate(aimdSettings(100), store, id, () => now));
    for (const gate of [a!, b!, c!]) await gate.acquire(0);
    for (let i = 0; i < 6; i += 1) a!.recordAccepted();
    now += 300;

    await a!.recordThrottle(1_000);

    // The old estimate: 3/s × 3 = 9/s → 8.55 on 6 calls. Now 12/s is only a lower bound: the plain cut.
    expect(a!.fleetRate).toBeCloseTo(70);
  });

  it('a second later, with every instance reporting, an instance that began late counts at its busy rate', async () => {
    let now = 1_000_000;
    const store = new MemoryFleetRateStore();
    const [a, b] = ['a', 'b'].map((id) => new GraphRateGate(aimdSettings(100), store, id, () => now));
    await a!.acquire(0);
    now += STEP_MS;
    await work([a!], 1_500, (ms) => (now += ms));
    // b starts: 8 calls in its first second, reported at its syncs.
    await work([a!, b!], 1_000, (ms) => (now += ms));

    await b!.recordThrottle(1_000);

    // a: 8/s; b: 8 calls over 1 s = 8/s (over the whole 2 s window it would read 4/s) → 16/s → ~15.
    expect(b!.fleetRate).toBeGreaterThan(0.95 * 15);
    expect(b!.fleetRate).toBeLessThan(0.95 * 18);
  });

  it('once every busy instance has reported for the whole window, the same fleet cuts deep (far above the ceiling)', async () => {
    let now = 1_000_000;
    const store = new MemoryFleetRateStore();
    const [a, b] = ['a', 'b'].map((id) => new GraphRateGate(aimdSettings(100), store, id, () => now));
    await work([a!, b!], 3_000, (ms) => (now += ms));

    await a!.recordThrottle(1_000);

    // 8/s each over the last 2 s: the fleet got ~16/s accepted while its rate was 100 → ~15.
    expect(a!.fleetRate).toBeGreaterThan(0.95 * 15);
    expect(a!.fleetRate).toBeLessThan(0.95 * 18);
  });

  it('an instance reports its accepted rate with every sync while calls are accepted, else every 5 s', async () => {
    let now = 1_000_000;
    const store = new MemoryFleetRateStore();
    const gate = new GraphRateGate(aimdSettings(100), store, 'solo', () => now);
    await work([gate], 2_000, (ms) => (now += ms));
    await gate.acquire(0);
    const busy = store.instances.get('solo')!;
    expect(now - busy.seenAt).toBeLessThanOrEqual(1_000);
    expect(busy.acceptedRate).toBeGreaterThanOrEqual(7);
    expect(busy.busySince).toBe(1_000_000);

    // Slots wanted, none accepted since the last report (refused, or the calls failed): no report for 5 s.
    now += 1_500;
    await gate.acquire(0);
    now += 1_500;
    await gate.acquire(0);
    const quiet = store.instances.get('solo')!;
    now += 1_500;
    await gate.acquire(0);
    expect(store.instances.get('solo')!.seenAt).toBe(quiet.seenAt);
    now += 2_000;
    await gate.acquire(0);
    const later = store.instances.get('solo')!;
    expect(later.seenAt).toBe(now);
    expect(later.acceptedRate).toBe(0);
    expect(later.busySince).toBe(1_000_000);
  });
});
