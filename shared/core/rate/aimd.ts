/**
 * The send rate to Graph, shared by every worker of the app. Graph's real ceiling for POST /chats is
 * not published clearly: Graph's Teams limits table puts creating a chat under "other API calls" (30/s
 * per app per tenant), while an unpublished Teams table lists POST chats at 20 per 10 s. So the rate
 * adapts: it starts at GRAPH_MAX_RPS, is cut on a 429 to just under what Graph was accepting before it
 * (by 30% without enough calls to tell) and regained slowly (1% a second, at least 0.2/s). A 429 also
 * pauses every worker for its Retry-After. The fleet's state lives in one row of the work table; each
 * instance sends its share (fleet rate ÷ live instances, counted by heartbeats in the same table).
 * This module is the pure maths of that rate; rate/gate.ts applies it.
 */

export interface FleetRate {
  /** Requests per second for the whole app. */
  rate: number;
  /** No worker calls Graph before this time (ms since epoch). */
  pausedUntil: number;
  lastDecreaseAt: number;
  lastIncreaseAt: number;
  /**
   * When a 429 last set the rate from what the fleet got accepted (ms since epoch); 0 (or absent, in a row
   * of an earlier version) while the rate is still the configured maximum or a blind cut of it.
   */
  learnedAt?: number;
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
  return { rate: settings.maxRate, pausedUntil: 0, lastDecreaseAt: 0, lastIncreaseAt: now, learnedAt: 0 };
}

/**
 * Within the hold after a cut, a 429 with a full sample still cuts when what it says (95 % of what the fleet
 * got accepted) is below this fraction of the rate: the cut it echoes was blind, not a second estimate.
 */
const ECHO_OVERRIDE_FACTOR = 0.5;

/**
 * A 429: cut the rate (to no less than `acceptedRate` × 0.95 when known) and pause everyone. `complete`
 * false: `acceptedRate` counts only part of the fleet (another instance's report is missing or too young to
 * cover the window), so it is a lower bound of what Graph accepted: it may soften the cut, never deepen it
 * below the plain multiplicative cut.
 * What the fleet got accepted says where Graph's ceiling is only while the fleet was sending at its rate. The
 * first estimate replaces a blind rate (the configured maximum, far above the ceiling) and may cut deep; once
 * the rate has been learned that way, a sample taken while the fleet sent less (a stall, a lull in the queue)
 * would read the lull as the ceiling, so from then on an estimate may soften a cut but not deepen it below the
 * plain × 0.7: a real drop of the ceiling is still followed, one plain cut per overload.
 */
export function onThrottle(
  state: FleetRate,
  settings: AimdSettings,
  now: number,
  retryAfterMs: number,
  acceptedRate?: number,
  complete = true,
): FleetRate {
  const pausedUntil = Math.max(state.pausedUntil, now + retryAfterMs);
  const informed = acceptedRate !== undefined && acceptedRate > 0 && complete ? acceptedRate * 0.95 : undefined;
  const learned = (state.learnedAt ?? 0) > 0;
  if (now - state.lastDecreaseAt < settings.decreaseHoldMs) {
    // An echo. But when the cut it echoes was blind (a plain cut, or a bound at start-up) and this 429 comes
    // with a full sample saying the rate is still over twice that, the sample wins (the hold stays as it is).
    if (!learned && informed !== undefined && informed < state.rate * ECHO_OVERRIDE_FACTOR) {
      return { ...state, rate: Math.max(settings.minRate, informed), pausedUntil, learnedAt: now };
    }
    return { ...state, pausedUntil };
  }
  // What Graph accepted just before the 429 is the best estimate of its ceiling: cut to just under it, down
  // from far above (the first time) and no lower from near it (a blind 30% cut there loses throughput for every
  // cycle after). Without a useful sample (a handful of calls), the plain multiplicative cut.
  const plain = state.rate * settings.decrease;
  let rate = plain;
  let learnedAt = state.learnedAt ?? 0;
  if (informed !== undefined) {
    rate = Math.min(state.rate, learned ? Math.max(informed, plain) : informed);
    learnedAt = now;
  } else if (acceptedRate !== undefined && acceptedRate > 0)
    rate = Math.min(state.rate, Math.max(acceptedRate * 0.95, plain));
  rate = Math.max(settings.minRate, rate);
  return { rate, pausedUntil, lastDecreaseAt: now, lastIncreaseAt: now, learnedAt };
}

/** Time without a 429 regains the rate slowly (1% a second, at least 0.2/s), up to the configured maximum. */
export function regain(state: FleetRate, settings: AimdSettings, now: number): FleetRate {
  const seconds = (now - state.lastIncreaseAt) / 1000;
  if (seconds < 1 || state.rate >= settings.maxRate) return state;
  const rate = Math.min(
    settings.maxRate,
    state.rate + Math.max(settings.increasePerSecond, state.rate * settings.increaseFraction) * seconds,
  );
  // Back at the maximum, what was learned no longer bounds anything: the next estimate starts afresh.
  return { ...state, rate, lastIncreaseAt: now, learnedAt: rate >= settings.maxRate ? 0 : (state.learnedAt ?? 0) };
}
