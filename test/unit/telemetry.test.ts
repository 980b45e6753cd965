import { metrics, type Attributes, type Counter, type Meter, type MeterProvider } from '@opentelemetry/api';
import { ManagedIdentityCredential } from '@azure/identity';
import {
  AzureMonitorModule,
  meterCounters,
  MetricName,
  recordAccepted,
  recordChatCreated,
  recordChatFailed,
  recordFinal,
  recordThrottled,
  setTelemetryCounters,
  startTelemetry,
  stopTelemetry,
  telemetryCredential,
  TelemetryCounters,
} from '../../shared/platform/telemetry';

type Added = { name: string; value: number; attributes?: Attributes };

/** A meter provider that remembers every counter increment. */
function recordingProvider(): { provider: MeterProvider; added: Added[] } {
  const added: Added[] = [];
  const meter = {
    createCounter: (name: string) =>
      ({ add: (value: number, attributes?: Attributes) => added.push({ name, value, attributes }) }) as Counter,
  } as unknown as Meter;
  return { provider: { getMeter: () => meter }, added };
}

/** A stand-in for @azure/monitor-opentelemetry: records the options and installs a meter provider. */
function fakeMonitor(provider?: MeterProvider) {
  const calls: Parameters<AzureMonitorModule['useAzureMonitor']>[0][] = [];
  let shutdowns = 0;
  const module: AzureMonitorModule = {
    useAzureMonitor: (options) => {
      calls.push(options);
      if (provider) metrics.setGlobalMeterProvider(provider);
    },
    shutdownAzureMonitor: async () => {
      shutdowns += 1;
    },
  };
  const load = jest.fn(() => module);
  return { load, calls, shutdowns: () => shutdowns };
}

const localConfig = {
  applicationInsightsConnectionString: undefined,
  storage: { kind: 'connectionString' as const, connectionString: 'UseDevelopmentStorage=true' },
};
const CONNECTION_STRING =
  'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://example.invalid/';

afterEach(async () => {
  await stopTelemetry();
  metrics.disable();
});

describe('startTelemetry without a connection string', () => {
  it('loads nothing, starts nothing, and leaves every counter a no-op', () => {
    // Prepare
    const monitor = fakeMonitor();
    // Act
    const status = startTelemetry(localConfig, { loadMonitor: monitor.load });
    // Assess
    expect(status).toEqual({ started: false, reason: 'not-configured' });
    expect(monitor.load).not.toHaveBeenCalled();
    expect(() => {
      recordChatCreated();
      recordChatFailed('Forbidden');
      recordThrottled();
      recordAccepted(3);
    }).not.toThrow();
  });

  it('treats a blank connection string as none', () => {
    const monitor = fakeMonitor();
    const status = startTelemetry(
      { ...localConfig, applicationInsightsConnectionString: '   ' },
      { loadMonitor: monitor.load },
    );
    expect(status.started).toBe(false);
    expect(monitor.load).not.toHaveBeenCalled();
  });

  it('records into the no-op meter: a meter provider registered later is not fed', () => {
    // Prepare: telemetry off, then someone else registers a provider.
    startTelemetry(localConfig, { loadMonitor: fakeMonitor().load });
    const { provider, added } = recordingProvider();
    metrics.setGlobalMeterProvider(provider);
    // Act
    recordChatCreated();
    recordAccepted(5);
    // Assess
    expect(added).toEqual([]);
  });

  it('does not start with the process environment of the tests', () => {
    // The test run must never phone home: the setting is not set here (npm test, CI).
    expect(process.env.APPLICATIONINSIGHTS_CONNECTION_STRING ?? '').toBe('');
  });
});

describe('startTelemetry with a connection string', () => {
  it('starts Azure Monitor once, without HTTP spans, and feeds the counters to its meter', () => {
    // Prepare
    const { provider, added } = recordingProvider();
    const monitor = fakeMonitor(provider);
    const config = { ...localConfig, applicationInsightsConnectionString: CONNECTION_STRING };
    // Act
    const first = startTelemetry(config, { loadMonitor: monitor.load });
    const second = startTelemetry(config, { loadMonitor: monitor.load });
    recordChatCreated();
    recordChatFailed('OperationTimeout');
    recordThrottled('pollOperation');
    recordThrottled();
    recordAccepted(7);
    // Assess
    expect(first).toEqual({ started: true });
    expect(second).toBe(first);
    expect(monitor.load).toHaveBeenCalledTimes(1);
    expect(monitor.calls).toHaveLength(1);
    expect(monitor.calls[0]?.azureMonitorExporterOptions?.connectionString).toBe(CONNECTION_STRING);
    expect(monitor.calls[0]?.instrumentationOptions?.http).toEqual({ enabled: false });
    expect(added).toEqual([
      { name: MetricName.chatsCreated, value: 1, attributes: undefined },
      { name: MetricName.chatsFailed, value: 1, attributes: { code: 'OperationTimeout' } },
      { name: MetricName.graphThrottled, value: 1, attributes: { call: 'pollOperation' } },
      { name: MetricName.graphThrottled, value: 1, attributes: undefined },
      { name: MetricName.requestsAccepted, value: 7, attributes: undefined },
    ]);
  });

  it('authenticates with the app identity when storage uses one', () => {
    const monitor = fakeMonitor();
    startTelemetry(
      {
        applicationInsightsConnectionString: CONNECTION_STRING,
        storage: {
          kind: 'identity',
          queueServiceUri: 'https://st.queue.core.windows.net',
          tableServiceUri: 'https://st.table.core.windows.net',
          clientId: '11111111-2222-3333-4444-555555555555',
        },
      },
      { loadMonitor: monitor.load },
    );
    expect(monitor.calls[0]?.azureMonitorExporterOptions?.credential).toBeInstanceOf(ManagedIdentityCredential);
    expect(telemetryCredential(localConfig)).toBeUndefined();
  });

  it('reports a start-up failure instead of throwing, and the counters stay no-ops', () => {
    // Prepare: the package is missing or broken.
    const load = jest.fn((): AzureMonitorModule => {
      throw new Error("Cannot find module '@azure/monitor-opentelemetry'\nRequire stack: ...");
    });
    // Act
    const status = startTelemetry(
      { ...localConfig, applicationInsightsConnectionString: CONNECTION_STRING },
      {
        loadMonitor: load,
      },
    );
    // Assess
    expect(status).toEqual({
      started: false,
      reason: 'failed',
      error: "Cannot find module '@azure/monitor-opentelemetry'",
    });
    expect(() => recordChatCreated()).not.toThrow();
  });

  it('never echoes the connection string in a start-up error', () => {
    const load = jest.fn((): AzureMonitorModule => {
      throw new Error(`Invalid connection string: ${CONNECTION_STRING}`);
    });
    const status = startTelemetry(
      { ...localConfig, applicationInsightsConnectionString: CONNECTION_STRING },
      { loadMonitor: load },
    );
    expect(status).toEqual({ started: false, reason: 'failed', error: 'Invalid connection string: [redacted]' });
  });

  it('stopTelemetry flushes through shutdownAzureMonitor and allows a new start', async () => {
    const monitor = fakeMonitor();
    const config = { ...localConfig, applicationInsightsConnectionString: CONNECTION_STRING };
    startTelemetry(config, { loadMonitor: monitor.load });
    await stopTelemetry();
    expect(monitor.shutdowns()).toBe(1);
    startTelemetry(config, { loadMonitor: monitor.load });
    expect(monitor.load).toHaveBeenCalledTimes(2);
  });
});

describe('counters', () => {
  it('count only positive whole acceptances and bound the failure code', () => {
    // Prepare
    const { provider, added } = recordingProvider();
    const counters = meterCounters(provider.getMeter('test'));
    // Act
    counters.accepted(0);
    counters.accepted(-2);
    counters.accepted(Number.NaN);
    counters.accepted(2.9);
    counters.chatFailed('');
    counters.chatFailed('x'.repeat(200));
    // Assess
    expect(added).toEqual([
      { name: MetricName.requestsAccepted, value: 2, attributes: undefined },
      { name: MetricName.chatsFailed, value: 1, attributes: { code: 'unknown' } },
      { name: MetricName.chatsFailed, value: 1, attributes: { code: 'x'.repeat(64) } },
    ]);
  });

  it('never lets a telemetry error reach the caller', () => {
    const broken: TelemetryCounters = {
      chatCreated: () => {
        throw new Error('exporter down');
      },
      chatFailed: () => {
        throw new Error('exporter down');
      },
      throttled: () => {
        throw new Error('exporter down');
      },
      accepted: () => {
        throw new Error('exporter down');
      },
    };
    setTelemetryCounters(broken);
    expect(() => {
      recordChatCreated();
      recordChatFailed('BadRequest');
      recordThrottled();
      recordAccepted(1);
    }).not.toThrow();
  });

  it('counts a final request by its state and error code, and nothing else', () => {
    const seen: string[] = [];
    setTelemetryCounters({
      chatCreated: () => seen.push('created'),
      chatFailed: (code) => seen.push(`failed:${code}`),
      throttled: () => seen.push('throttled'),
      accepted: () => seen.push('accepted'),
    });
    recordFinal({ state: 'succeeded' });
    recordFinal({ state: 'failed', error: { code: 'PoisonMessage', message: 'm', retryable: true } });
    recordFinal({ state: 'failed' });
    recordFinal({ state: 'queued', error: { code: 'TooManyRequests', message: 'm', retryable: true } });
    recordFinal({ state: 'pending' });
    expect(seen).toEqual(['created', 'failed:PoisonMessage', 'failed:unknown']);
  });

  it('calls the counters it was given (for tests of the wiring)', () => {
    const seen: string[] = [];
    setTelemetryCounters({
      chatCreated: () => seen.push('created'),
      chatFailed: (code) => seen.push(`failed:${code}`),
      throttled: (call) => seen.push(`throttled:${call}`),
      accepted: (n) => seen.push(`accepted:${n}`),
    });
    recordChatCreated();
    recordChatFailed('NotFound');
    recordThrottled();
    recordAccepted(4);
    expect(seen).toEqual(['created', 'failed:NotFound', 'throttled:undefined', 'accepted:4']);
  });
});
