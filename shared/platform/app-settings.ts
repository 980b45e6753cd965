/**
 * The app settings (environment variables) as the code reads them: `appSettings()` is the one place that
 * touches `process.env`, and the names, defaults and patterns of the settings the triggers are registered
 * with are declared here once, for `loadConfig` (shared/platform/config.ts, which validates every setting with zod)
 * and for the function files, which read them when the app is indexed. This module imports nothing, so
 * indexing stays cheap (cold start, bench P4).
 */

export type AppSettings = Record<string, string | undefined>;

/** The process's app settings. */
export function appSettings(): AppSettings {
  return process.env;
}

export const DEFAULT_QUEUE_NAME = 'chat-requests';
export const DEFAULT_POLL_SCHEDULE = '*/5 * * * * *';

// Storage queue names: 3-63 lowercase letters, digits and single hyphens, starting and ending alphanumeric.
export const QUEUE_NAME = /^(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]$/;
// Six fields: second minute hour day month day-of-week (NCRONTAB), or a TimeSpan like 00:00:05.
export const NCRONTAB = /^\s*\S+(\s+\S+){5}\s*$/;
export const TIMESPAN = /^\d{2}:\d{2}:\d{2}$/;

// The triggers' settings are read leniently: a bad value falls back to the default here, and `loadConfig`
// reports it on the first invocation, so one bad setting cannot stop the functions from loading.

/** Queue names for trigger registration: CHAT_REQUESTS_QUEUE if valid, else the default. */
export function queueNames(env: AppSettings = appSettings()): { queue: string; poison: string } {
  const value = env.CHAT_REQUESTS_QUEUE?.trim();
  const queue = value && QUEUE_NAME.test(value) ? value : DEFAULT_QUEUE_NAME;
  return { queue, poison: `${queue}-poison` };
}

/** The timer schedule for registration: POLL_SCHEDULE if valid, else the default (see queueNames). */
export function pollSchedule(env: AppSettings = appSettings()): string {
  const value = env.POLL_SCHEDULE?.trim();
  return value && (NCRONTAB.test(value) || TIMESPAN.test(value)) ? value : DEFAULT_POLL_SCHEDULE;
}
