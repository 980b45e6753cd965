import { appSettings } from './app-settings';

/**
 * Lazy loading of the function handlers. A function file (functions/*.ts) only registers its triggers;
 * the code behind them (zod schemas, the Azure SDKs, the Graph client) loads on the first invocation, so
 * the worker's indexing of the app (cold start, bench P4) loads `@azure/functions` and little more. This
 * module must stay cheap: at load time it imports only the dependency-free app-settings module.
 *
 * Telemetry, when APPLICATIONINSIGHTS_CONNECTION_STRING is set, is started here, before the first handler
 * module is loaded, so OpenTelemetry's instrumentations are registered before the SDKs they patch are
 * required (a module loaded earlier is never patched). Telemetry therefore starts on the first
 * invocation, not at indexing: indexing costs the same with telemetry as without, and the first
 * invocation after a cold start pays for loading the Azure Monitor distro on top of its handler's
 * modules. Nothing is missed by waiting: no code of ours runs, and nothing is called, before it.
 */

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
  const settings = appSettings();
  // The cheap check first: without a connection string not even the configuration is loaded here.
  if (!settings.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim()) return;
  const { startTelemetryFromSettings } = await import('./telemetry-start');
  startTelemetryFromSettings(settings);
}
