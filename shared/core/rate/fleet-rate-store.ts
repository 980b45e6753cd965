import type { FleetRate } from './aimd';

/** Where the fleet's shared rate and the instances' heartbeats are kept (one row each). */
export interface FleetRateStore {
  read(): Promise<{ state: FleetRate; etag?: string } | undefined>;
  /** Conditional write (insert when no etag); false when another instance wrote first. */
  write(state: FleetRate, etag?: string): Promise<boolean>;
  heartbeat(instanceId: string, now: number): Promise<void>;
  liveInstances(now: number): Promise<number>;
}

export const HEARTBEAT_INTERVAL_MS = 5_000;
/** A heartbeat this old belongs to an instance that is gone for good. */
export const FORGET_INSTANCE_MS = 60 * 60_000;
