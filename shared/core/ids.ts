import { v7 as uuidv7 } from 'uuid';

/** Request ids are UUIDv7: unique, and sorted by creation time so listings can page by id. */
export function newRequestId(now: Date = new Date()): string {
  return uuidv7({ msecs: now.getTime() });
}

export function isRequestId(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(value);
}

/** The smallest id that a request created at or after `time` can have (for `since` range queries). */
export function lowestIdAt(time: Date): string {
  const hex = time.getTime().toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}

/** When a request was created, read from its UUIDv7 id. */
export function idTime(id: string): Date {
  return new Date(parseInt(id.replace(/-/g, '').slice(0, 12), 16));
}
