/**
 * What the function files (functions/*.ts) use at load time, and nothing else: the settings their
 * trigger registrations depend on, and lazy loading of their handlers. A function file only registers
 * its triggers; the code behind them (zod schemas, the Azure SDKs, the Graph client) loads on the first
 * invocation, so the worker's indexing of the app (cold start, bench P4) loads `@azure/functions` and
 * little more. This file must stay cheap: it imports nothing at load time.
 */

type Env = Record<string, string | undefined>;

// ---------------------------------------------------------------------------------------------
// Trigger settings, read leniently: the full `loadConfig` (shared/config.ts, zod) runs on first use
// and reports problems then, so one bad setting cannot stop the functions from loading.

export const DEFAULT_QUEUE_NAME = 'chat-requests';
export const DEFAULT_POLL_SCHEDULE = '*/5 * * * * *';

// Storage queue names: 3-63 lowercase letters, digits and single hyphens, starting and ending alphanumeric.
export const QUEUE_NAME = /^(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]$/;
// Six fields: second minute hour day month day-of-week (NCRONTAB), or a TimeSpan like 00:00:05.
export const NCRONTAB = /^\s*\S+(\s+\S+){5}\s*$/;
export const TIMESPAN = /^\d{2}:\d{2}:\d{2}$/;

/** Queue names for trigger registration: CHAT_REQUESTS_QUEUE if valid, else the default. */
export function queueNames(env: Env): { queue: string; poison: string } {
  const value = env.CHAT_REQUESTS_QUEUE?.trim();
  const queue = value && QUEUE_NAME.test(value) ? value : DEFAULT_QUEUE_NAME;
  return { queue, poison: `${queue}-poison` };
}

/** The timer schedule for registration: POLL_SCHEDULE if valid, else the default (see queueNames). */
export function pollSchedule(env: Env): string {
  const value = env.POLL_SCHEDULE?.trim();
  return value && (NCRONTAB.test(value) || TIMESPAN.test(value)) ? value : DEFAULT_POLL_SCHEDULE;
}

// ---------------------------------------------------------------------------------------------
// Lazy handler modules.
//
// Telemetry, when APPLICATIONINSIGHTS_CONNECTION_STRING is set, is started here, before the first
// handler module is loaded, so OpenTelemetry's instrumentations are registered before the SDKs they
// patch are required (a module loaded earlier is never patched). The trade-off: telemetry starts on
// the first invocation, not at indexing (as before, when only `services()` started it). Indexing stays
// as cheap with telemetry as without, and the first invocation after a cold start pays for loading
// the Azure Monitor distro on top of its handler's modules. Nothing is missed by waiting: no code of
// ours runs, and nothing is called, before the first invocation.

/** `load` runs once, on the first call, and its module is kept; a failed load is tried again next call. */
export function lazyModule<M>(load: () => Promise<M>): () => Promise<M> {
  let loading: Promise<M> | undefined;
  return () => {
    loading ??= startTelemetryFirst()
      .then(load)
      .catch((error: unknown) => {
        loading = undefined;
        throw error;
      });
    return loading;
  };
}

async function startTelemetryFirst(): Promise<void> {
  // The cheap check first: without a connection string not even the configuration is loaded here.
  if (!process.env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim()) return;
  const { startTelemetryFromSettings } = await import('./telemetry-start');
  startTelemetryFromSettings(process.env);
}
