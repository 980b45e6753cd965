import { Config, ConfigError, loadConfig } from './config';
import { startTelemetry, TelemetryStatus } from './telemetry';

/**
 * Starting telemetry from the app settings, shared by `services()` and by the first invocation of any
 * function (shared/platform/handler-loader.ts), which starts it before a handler module loads the Azure SDKs.
 */

let warned = false;

/** `startTelemetry(config)` (once per process, never throws); a failure is logged once as `telemetry.failed`. */
export function startTelemetryFor(config: Config): TelemetryStatus {
  const telemetry = startTelemetry(config);
  if (!telemetry.started && telemetry.reason === 'failed' && !warned) {
    warned = true;
    console.warn(JSON.stringify({ event: 'telemetry.failed', error: telemetry.error }));
  }
  return telemetry;
}

/**
 * Starts telemetry from `env` if APPLICATIONINSIGHTS_CONNECTION_STRING is set. An invalid configuration
 * starts nothing here: `services()` throws the same ConfigError on first use and the handlers report it.
 */
export function startTelemetryFromSettings(env: Record<string, string | undefined>): TelemetryStatus | undefined {
  if (!env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim()) return undefined;
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
  return startTelemetryFor(config);
}
