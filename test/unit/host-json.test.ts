import { minimumLogLevel, parseHostJson, parseTimeSpan, passesLogLevel } from '../../dev/host/host-json';

describe('parseTimeSpan', () => {
  it.each([
    ['00:05:00', 300_000],
    ['00:00:00.5', 500],
    ['1.02:00:00', 93_600_000],
    ['-1', -86_400_000],
    ['2', 172_800_000],
    ['00:01', 60_000],
  ])('%s → %d ms', (text, ms) => {
    expect(parseTimeSpan(text, 'x')).toBe(ms);
  });

  it('rejects what .NET would reject', () => {
    expect(() => parseTimeSpan('5 minutes', 'functionTimeout')).toThrow(/functionTimeout/);
    expect(() => parseTimeSpan('00:61:00', 'x')).toThrow(/range/);
  });
});

describe('parseHostJson', () => {
  it('applies the host defaults (Development polling interval of 2 s)', () => {
    expect(parseHostJson({ version: '2.0' })).toEqual({
      routePrefix: 'api',
      functionTimeoutMs: 30 * 60_000,
      queues: {
        batchSize: 16,
        newBatchThreshold: 8,
        maxPollingIntervalMs: 2_000,
        visibilityTimeoutMs: 0,
        maxDequeueCount: 5,
        messageEncoding: 'base64',
      },
      logLevels: {},
    });
    expect(parseHostJson({ version: '2.0' }, false).queues.maxPollingIntervalMs).toBe(60_000);
  });

  it('reads extensions case-insensitively', () => {
    const config = parseHostJson({
      version: '2.0',
      functionTimeout: '-1',
      extensions: {
        http: { routePrefix: '' },
        Queues: {
          BatchSize: 4,
          maxPollingInterval: '00:00:10',
          visibilityTimeout: '00:00:30',
          maxDequeueCount: 2,
          messageEncoding: 'None',
        },
      },
      logging: { logLevel: { default: 'warning', 'Function.x': 'Debug' } },
    });
    expect(config.routePrefix).toBe('');
    expect(config.functionTimeoutMs).toBeUndefined();
    expect(config.queues).toEqual({
      batchSize: 4,
      newBatchThreshold: 2,
      maxPollingIntervalMs: 10_000,
      visibilityTimeoutMs: 30_000,
      maxDequeueCount: 2,
      messageEncoding: 'none',
    });
    expect(config.logLevels).toEqual({ default: 'Warning', 'Function.x': 'Debug' });
  });

  it('names every invalid value', () => {
    expect(() => parseHostJson({ version: '1.0' })).toThrow(/version/);
    expect(() => parseHostJson({ version: '2.0', extensions: { queues: { batchSize: 33 } } })).toThrow(/batchSize/);
    expect(() =>
      parseHostJson({ version: '2.0', extensions: { queues: { maxPollingInterval: '00:00:00.05' } } }),
    ).toThrow(/maxPollingInterval/);
    expect(() => parseHostJson({ version: '2.0', extensions: { queues: { messageEncoding: 'utf8' } } })).toThrow(
      /messageEncoding/,
    );
    expect(() => parseHostJson({ version: '2.0', functionTimeout: '00:00:00' })).toThrow(/functionTimeout/);
  });
});

describe('log levels', () => {
  it('takes the most specific category, then default, then Information', () => {
    const levels = { default: 'Warning' as const, 'Function.getItem': 'Debug' as const };
    expect(minimumLogLevel(levels, ['Function.getItem.User', 'Function.getItem', 'Function'])).toBe('Debug');
    expect(minimumLogLevel(levels, ['Function.other'])).toBe('Warning');
    expect(minimumLogLevel({}, ['Function'])).toBe('Information');
  });

  it('compares the worker level names with host.json names', () => {
    expect(passesLogLevel('information', 'Information')).toBe(true);
    expect(passesLogLevel('debug', 'Information')).toBe(false);
    expect(passesLogLevel('error', 'Warning')).toBe(true);
    expect(passesLogLevel('critical', 'None')).toBe(false);
  });
});
