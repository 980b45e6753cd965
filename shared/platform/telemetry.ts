import { metrics, type Attributes, type Meter } from '@opentelemetry/api';
import type { TokenCredential } from '@azure/identity';
import type { Config } from './config';
import { ChatRequest, State } from '../core/model';

/**
 * OpenTelemetry to Application Insights, and the service's counters (docs/operations.md).
 *
 * Nothing phones home unless APPLICATIONINSIGHTS_CONNECTION_STRING is set: without it the Azure
 * Monitor package is never even loaded and every counter is a no-op. The rest of the code calls
 * only the `record*` functions; they never throw and cost nothing when telemetry is off.
 */

export const METER_NAME = 'chat-provisioner';

export const MetricName = {
  chatsCreated: 'chats.created',
  chatsFailed: 'chats.failed',
  graphThrottled: 'graph.throttled',
  requestsAccepted: 'requests.accepted',
} as const;

/** Which Graph call a 429 answered, when the caller knows. */
export type ThrottledCall = 'createChat' | 'listUserChats' | 'pollOperation' | 'getChat';

/** The counters the service records; the default does nothing. */
export interface TelemetryCounters {
  chatCreated(): void;
  chatFailed(code: string): void;
  throttled(call?: ThrottledCall): void;
  accepted(count: number): void;
}

export const noopCounters: TelemetryCounters = {
  chatCreated: () => undefined,
  chatFailed: () => undefined,
  throttled: () => undefined,
  accepted: () => undefined,
};

// Failure codes are a small closed set in practice (Graph codes, ours); the cap keeps a surprise cheap.
const MAX_CODE_LENGTH = 64;

/** Counters on an OpenTelemetry meter. Attributes are codes and call names only, never ids or members. */
export function meterCounters(meter: Meter): TelemetryCounters {
  const created = meter.createCounter(MetricName.chatsCreated, {
    description: 'Requests that reached succeeded (the chat exists)',
    unit: '{chat}',
  });
  const failed = meter.createCounter(MetricName.chatsFailed, {
    description: 'Requests that reached failed, by error code',
    unit: '{chat}',
  });
  const throttled = meter.createCounter(MetricName.graphThrottled, {
    description: 'Graph answers 429 Too Many Requests, by call',
    unit: '{response}',
  });
  const accepted = meter.createCounter(MetricName.requestsAccepted, {
    description: 'New requests recorded and queued (replays not counted)',
    unit: '{request}',
  });
  return {
    chatCreated: () => created.add(1),
    chatFailed: (code) => failed.add(1, { code: cleanCode(code) } satisfies Attributes),
    throttled: (call) => throttled.add(1, call ? ({ call } satisfies Attributes) : undefined),
    accepted: (count) => {
      if (Number.isFinite(count) && count > 0) accepted.add(Math.floor(count));
    },
  };
}

function cleanCode(code: string): string {
  const text = String(code ?? '').trim();
  return text === '' ? 'unknown' : text.slice(0, MAX_CODE_LENGTH);
}

let counters: TelemetryCounters = noopCounters;

function safely(record: (c: TelemetryCounters) => void): void {
  try {
    record(counters);
  } catch {
    // Telemetry must never fail a request.
  }
}

/** A request reached `succeeded` (created, adopted after an unknown outcome, or its operation finished). */
export function recordChatCreated(): void {
  safely((c) => c.chatCreated());
}

/** A request reached `failed`; `code` is `error.code` (e.g. Forbidden, OperationTimeout, PoisonMessage). */
export function recordChatFailed(code: string): void {
  safely((c) => c.chatFailed(code));
}

/** A request reached a final state: counts it as created or failed (by `error.code`); other states are ignored. */
export function recordFinal(request: Pick<ChatRequest, 'state' | 'error'>): void {
  if (request.state === State.succeeded) recordChatCreated();
  else if (request.state === State.failed) recordChatFailed(request.error?.code ?? 'unknown');
}

/** Graph answered 429 (any call: they share the app's budget and the fleet-wide pause). */
export function recordThrottled(call?: ThrottledCall): void {
  safely((c) => c.throttled(call));
}

/** `count` new requests were accepted (1 for POST /api/requests; the accepted items of a batch). */
export function recordAccepted(count: number): void {
  safely((c) => c.accepted(count));
}

// ---------------------------------------------------------------------------------------------
// Start-up.

/** The part of `@azure/monitor-opentelemetry` used here (its `useAzureMonitor` options, narrowed). */
export interface AzureMonitorModule {
  useAzureMonitor(options?: {
    azureMonitorExporterOptions?: { connectionString?: string; credential?: TokenCredential };
    enableLiveMetrics?: boolean;
    instrumentationOptions?: Record<string, { enabled?: boolean }>;
  }): void;
  shutdownAzureMonitor(): Promise<void>;
}

export const AZURE_MONITOR_PACKAGE = '@azure/monitor-opentelemetry';

/**
 * Loaded only when telemetry is configured: the package patches modules and pulls in the whole
 * OpenTelemetry SDK, which tests, local runs and cold starts without telemetry should not pay for.
 */
function loadAzureMonitor(): AzureMonitorModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(AZURE_MONITOR_PACKAGE) as AzureMonitorModule;
}

export type TelemetryStatus =
  | { started: true }
  | { started: false; reason: 'not-configured' }
  | { started: false; reason: 'failed'; error: string };

export interface TelemetryOptions {
  /** Tests hand in a fake; the default loads the real package. */
  loadMonitor?: () => AzureMonitorModule;
  /** The identity that sends telemetry; see `telemetryCredential`. */
  credential?: TokenCredential;
}

let status: TelemetryStatus | undefined;
let monitor: AzureMonitorModule | undefined;

/**
 * Starts OpenTelemetry export to Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is
 * set, once per process (later calls return the first result). Never throws: a telemetry problem is
 * reported in the result, and the service runs on without it.
 */
export function startTelemetry(
  config: Pick<Config, 'applicationInsightsConnectionString' | 'storage'>,
  options: TelemetryOptions = {},
): TelemetryStatus {
  if (status) return status;
  const connectionString = config.applicationInsightsConnectionString?.trim();
  if (!connectionString) {
    status = { started: false, reason: 'not-configured' };
    return status;
  }
  try {
    const loaded = (options.loadMonitor ?? loadAzureMonitor)();
    loaded.useAzureMonitor({
      azureMonitorExporterOptions: {
        connectionString,
        credential: options.credential ?? telemetryCredential(config),
      },
      enableLiveMetrics: false,
      instrumentationOptions: {
        // Outgoing-call spans would carry Graph URLs, and GET /users/{upn}/chats names a member.
        http: { enabled: false },
        azureSdk: { enabled: false },
      },
    });
    monitor = loaded;
    // Instruments made before a meter provider exists stay no-ops forever, so they are made now.
    counters = meterCounters(metrics.getMeter(METER_NAME));
    status = { started: true };
  } catch (error) {
    const message = String((error as Error)?.message ?? error).split('\n')[0]!;
    // The connection string is a secret setting: never echo it, even inside an SDK's message.
    status = { started: false, reason: 'failed', error: message.split(connectionString).join('[redacted]') };
  }
  return status;
}

/**
 * The identity that authenticates telemetry. The Application Insights resource accepts only Entra
 * tokens (local auth is disabled in infra/app/monitoring.bicep); APPLICATIONINSIGHTS_AUTHENTICATION_STRING
 * is the host's setting, so the in-process exporter is handed the app's identity explicitly: the same
 * user-assigned identity the app reaches storage with. With a storage connection string (local runs)
 * there is no identity and the connection string's key is used.
 */
export function telemetryCredential(config: Pick<Config, 'storage'>): TokenCredential | undefined {
  if (config.storage.kind !== 'identity') return undefined;
  // Required here, not at the top, so that loading this module (which happens before any handler module
  // when telemetry is on, see shared/platform/handler-loader.ts) does not load the Azure SDK. The exporter needs the
  // credential, so with an identity it loads just before useAzureMonitor; the azureSdk instrumentation is off.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { ManagedIdentityCredential } = require('@azure/identity') as typeof import('@azure/identity');
  return config.storage.clientId
    ? new ManagedIdentityCredential({ clientId: config.storage.clientId })
    : new ManagedIdentityCredential();
}

/** Flushes and stops the exporter (shutdown, tests); the counters go back to no-ops. */
export async function stopTelemetry(): Promise<void> {
  const running = monitor;
  monitor = undefined;
  status = undefined;
  counters = noopCounters;
  if (running) await running.shutdownAzureMonitor();
}

/** Where the counters go; tests use it to observe calls without OpenTelemetry. */
export function setTelemetryCounters(next: TelemetryCounters): void {
  counters = next;
}
