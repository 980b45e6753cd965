import { recordThrottled } from '../../platform/telemetry';
import { type AimdSettings, type FleetRate, initialFleetRate, onThrottle, regain } from './aimd';
import {
  ACCEPTED_WINDOW_MS,
  type FleetRateStore,
  HEARTBEAT_INTERVAL_MS,
  type InstanceReport,
} from './fleet-rate-store';

const SYNC_INTERVAL_MS = 1_000;
/** Accepted calls (the fleet's) in the window before a 429 needed to read them as Graph's ceiling. */
const MIN_ACCEPTED_SAMPLE = 4;
/**
 * An instance reports with every sync (about once a second) while it gets calls accepted: a report older
 * than this is from an instance that has had none accepted since (out of work, or refused by the gate).
 */
const FRESH_REPORT_MS = 3 * SYNC_INTERVAL_MS;
/** The shortest time an accepted count is read over: a few calls in a few milliseconds are not a rate. */
const MIN_SPAN_MS = 500;
/** A 429 echo whose pause ends no later than this after the one already shared is not written again. */
const ECHO_PAUSE_SLACK_MS = 250;
/** This instance's accepted calls needed to stand in for an instance whose report came before its first call. */
const MIN_PROXY_SAMPLE = 10;

/** What the fleet's heartbeats say Graph accepted before a 429. */
interface FleetSample {
  /** Calls per second, the whole fleet. */
  acceptedRate: number;
  /** False when part of the fleet is missing from it: then it may only soften the cut. */
  complete: boolean;
}

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
  private sampling: Promise<FleetSample | undefined> | undefined;
  /** Timestamps of this instance's accepted calls in the last `ACCEPTED_WINDOW_MS`, oldest first. */
  private accepted: number[] = [];
  private acceptedSinceHeartbeat = 0;
  /** Since when this instance has wanted slots without a gap longer than the window; when it last did. */
  private busySince: number | undefined;
  private lastDemandAt = Number.NEGATIVE_INFINITY;
  /** The latest pause this instance has written to the shared row. */
  private sharedPause = 0;

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
    this.noteDemand(this.clock());
    await this.syncIfDue();
    for (;;) {
      const now = this.clock();
      this.noteDemand(now);
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
    this.acceptedSinceHeartbeat += 1;
    this.forgetOldAccepted(now);
  }

  /**
   * A 429: pause at once, then cut the fleet rate to just under what the whole fleet was getting accepted
   * (this instance's own count plus the others' heartbeat reports) and share the cut and the pause.
   */
  async recordThrottle(retryAfterMs: number): Promise<void> {
    recordThrottled();
    const now = this.clock();
    this.tokens = 0;
    this.state = { ...this.state, pausedUntil: Math.max(this.state.pausedUntil, now + retryAfterMs) };
    // An echo of a cut this instance already made needs no sample; 429s of the same moment share one.
    const echo = now - this.state.lastDecreaseAt < this.settings.decreaseHoldMs;
    const sample = echo
      ? undefined
      : await (this.sampling ??= this.fleetSample(now).finally(() => {
          this.sampling = undefined;
        }));
    const cut = (state: FleetRate) =>
      onThrottle(state, this.settings, now, retryAfterMs, sample?.acceptedRate, sample?.complete);
    // Every call in flight when Graph's budget ran out comes back 429 within milliseconds: once this
    // instance has shared the cut and about this pause, the echoes change nothing worth a conditional write.
    const echoed = now - this.state.lastDecreaseAt < this.settings.decreaseHoldMs;
    this.state = cut(this.state);
    this.tokens = 0;
    if (echoed && this.state.pausedUntil <= this.sharedPause + ECHO_PAUSE_SLACK_MS) return;
    this.sharedPause = Math.max(this.sharedPause, this.state.pausedUntil);
    await this.publish(cut);
  }

  /**
   * The fleet's accepted calls per second over the window before `now`: this instance's own count plus
   * every other live instance's last report. Busy instances report about once a second, so the others'
   * figures are at most a second or two old. An instance whose report is younger than `MIN_SPAN_MS` of its
   * work (at start-up) is taken to run at this instance's rate if this instance has `MIN_PROXY_SAMPLE` calls
   * to go by; else the sample is a lower bound that may only soften the cut (never below the plain cut), as
   * it is when the reports cannot be read (then this instance's rate × live instances).
   */
  private async fleetSample(now: number): Promise<FleetSample | undefined> {
    const own = this.ownRate(now);
    let reports: InstanceReport[] | undefined;
    try {
      reports = await this.store.liveInstances(now);
      this.instances = Math.max(1, reports.length);
    } catch {
      reports = undefined;
    }
    if (!reports) {
      // Storage down: the others' share is assumed like this instance's, and may only soften the cut.
      if (own.calls < MIN_ACCEPTED_SAMPLE) return undefined;
      return { acceptedRate: own.rate * this.instances, complete: false };
    }
    let others = 0;
    let young = 0;
    for (const report of reports) {
      // Not wanting slots, or silent for seconds: an instance that gets calls accepted reports every second.
      if (report.instanceId === this.instanceId || report.busySince === undefined) continue;
      if (now - report.seenAt > FRESH_REPORT_MS) continue;
      // A report made as its instance began (at start-up every instance reports before its first call) says
      // nothing of its rate since: taken to be this instance's, when this instance's own sample is enough.
      if (report.seenAt - report.busySince < MIN_SPAN_MS) {
        young += 1;
        others += Math.max(report.acceptedRate, own.calls >= MIN_PROXY_SAMPLE ? own.rate : 0);
      } else others += report.acceptedRate;
    }
    // A handful of calls says what demand was, not where Graph's ceiling is: then only the plain cut.
    if (own.calls + others * (ACCEPTED_WINDOW_MS / 1000) < MIN_ACCEPTED_SAMPLE) return undefined;
    return { acceptedRate: own.rate + others, complete: young === 0 || own.calls >= MIN_PROXY_SAMPLE };
  }

  /**
   * This instance's accepted calls per second: those of the window, over the part of it it has been busy
   * (at least `MIN_SPAN_MS`), so that an instance that began a moment ago is not read as a slow one.
   */
  private ownRate(now: number): { calls: number; rate: number } {
    this.forgetOldAccepted(now);
    const busyFor = this.busySince === undefined ? ACCEPTED_WINDOW_MS : now - this.busySince;
    const span = Math.min(ACCEPTED_WINDOW_MS, Math.max(MIN_SPAN_MS, busyFor));
    return { calls: this.accepted.length, rate: this.accepted.length / (span / 1000) };
  }

  private noteDemand(now: number): void {
    if (this.busySince === undefined || now - this.lastDemandAt > ACCEPTED_WINDOW_MS) this.busySince = now;
    this.lastDemandAt = now;
  }

  private report(now: number): InstanceReport {
    const busy = this.busySince !== undefined && now - this.lastDemandAt <= ACCEPTED_WINDOW_MS;
    return {
      instanceId: this.instanceId,
      seenAt: now,
      acceptedRate: this.ownRate(now).rate,
      ...(busy ? { busySince: this.busySince } : {}),
    };
  }

  private forgetOldAccepted(now: number): void {
    const windowStart = now - ACCEPTED_WINDOW_MS;
    let old = 0;
    while (old < this.accepted.length && this.accepted[old]! < windowStart) old += 1;
    if (old > 0) this.accepted.splice(0, old);
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
      // Idle: a heartbeat every 5 s. Busy (calls accepted since the last one, or work just began): with every
      // sync, so that the fleet's estimate of what Graph accepts counts this instance's calls of the last second.
      const due = now - this.lastHeartbeat >= HEARTBEAT_INTERVAL_MS;
      const busy =
        this.acceptedSinceHeartbeat > 0 || (this.busySince !== undefined && this.busySince > this.lastHeartbeat);
      if (due || busy) {
        this.lastHeartbeat = now;
        this.acceptedSinceHeartbeat = 0;
        await this.store.heartbeat(this.report(now));
      }
      if (due) this.instances = Math.max(1, (await this.store.liveInstances(now)).length);
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
