import type { FleetRate } from './aimd';

/** What an instance says of itself with each heartbeat (one row per instance). */
export interface InstanceReport {
  instanceId: string;
  /** When this report was made (ms since epoch). */
  seenAt: number;
  /** Its calls Graph accepted per second over the `ACCEPTED_WINDOW_MS` before `seenAt`. */
  acceptedRate: number;
  /** Since when it has wanted send slots without a gap; absent when it wanted none in the window (idle). */
  busySince?: number;
}

/** Where the fleet's shared rate and the instances' heartbeats are kept (one row each). */
export interface FleetRateStore {
  read(): Promise<{ state: FleetRate; etag?: string } | undefined>;
  /** Conditional write (insert when no etag); false when another instance wrote first. */
  write(state: FleetRate, etag?: string): Promise<boolean>;
  heartbeat(report: InstanceReport): Promise<void>;
  /** The reports of the instances alive at `now` (a heartbeat in the last `LIVE_INSTANCE_MS`). */
  liveInstances(now: number): Promise<InstanceReport[]>;
}

/** An idle instance heartbeats this often; a busy one with every sync of the shared row (about once a second). */
export const HEARTBEAT_INTERVAL_MS = 5_000;
/** An instance with no heartbeat for this long is not counted. */
export const LIVE_INSTANCE_MS = 3 * HEARTBEAT_INTERVAL_MS;
/** The window an instance's accepted calls are counted over (its own, and in its report). */
export const ACCEPTED_WINDOW_MS = 2_000;
/** A heartbeat this old belongs to an instance that is gone for good. */
export const FORGET_INSTANCE_MS = 60 * 60_000;
