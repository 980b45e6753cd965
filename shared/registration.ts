/**
 * Kept for shared/config.ts until it imports these from shared/app-settings.ts; the function files use
 * app-settings.ts and handler-loader.ts. Re-exports only the settings, so it closes no import circle.
 */
export {
  DEFAULT_POLL_SCHEDULE,
  DEFAULT_QUEUE_NAME,
  NCRONTAB,
  pollSchedule,
  QUEUE_NAME,
  queueNames,
  TIMESPAN,
} from './app-settings';
