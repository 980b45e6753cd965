/**
 * The old entry point of the fleet rate limiter, kept so files not yet moved to `shared/rate/` compile
 * unchanged: the AIMD maths (aimd.ts), the gate (gate.ts), the store port and its table adapter.
 */
export { type AimdSettings, aimdSettings, type FleetRate, initialFleetRate, onThrottle, regain } from './rate/aimd';
export type { FleetRateStore } from './rate/fleet-rate-store';
export { type Admission, GraphRateGate } from './rate/gate';
export { TableFleetRateStore } from './rate/table-store';
