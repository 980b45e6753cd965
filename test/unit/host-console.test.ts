import { consoleLogger, formatLine, levelOf } from '../../dev/host/console';

/** The local console's rendering of host events (the idle-minute test with a real host is in test/integration). */
const AT = new Date(2026, 11, 3, 9, 4, 5, 123);

describe('the local console', () => {
  it('puts invocation chatter, ticks, lease renewals and queue-not-found at debug; problems at warn/error', () => {
    expect(levelOf({ event: 'invocation', phase: 'start' })).toBe('debug');
    expect(levelOf({ event: 'invocation', phase: 'end', outcome: 'succeeded' })).toBe('debug');
    expect(levelOf({ event: 'invocation', phase: 'end', outcome: 'failed' })).toBe('error');
    expect(levelOf({ event: 'invocation', phase: 'end', outcome: 'timeout' })).toBe('error');
    expect(levelOf({ event: 'timer', phase: 'skipped' })).toBe('debug');
    expect(levelOf({ event: 'queue', phase: 'queue-not-found' })).toBe('debug');
    expect(levelOf({ event: 'queue', phase: 'lease-renewed' })).toBe('debug');
    expect(levelOf({ event: 'queue', phase: 'poisoned' })).toBe('warn');
    expect(levelOf({ event: 'host', phase: 'started' })).toBe('info');
    expect(levelOf({ event: 'log', level: 'debug' })).toBe('debug');
    expect(levelOf({ event: 'log', level: 'information' })).toBe('info');
    expect(levelOf({ event: 'log', level: 'warning' })).toBe('warn');
  });

  it("prints the app's JSON events as event key=value, and other messages as they are", () => {
    const line = {
      event: 'log',
      level: 'information',
      function: 'worker',
      message: '{"event":"request.succeeded","requestId":"r1","attempt":1,"note":"a b"}',
    };
    expect(formatLine(line, 'info', AT)).toBe(
      '09:04:05.123 INFO  worker    request.succeeded requestId=r1 attempt=1 note="a b"',
    );
    expect(formatLine({ ...line, message: 'plain words' }, 'info', AT)).toBe(
      '09:04:05.123 INFO  worker    plain words',
    );
  });

  it('a failed invocation is one line naming where it threw; the stack only at debug', () => {
    const error = new TypeError('x is undefined');
    error.stack =
      'TypeError: x is undefined\n    at work (/app/dist/shared/worker.js:12:5)\n    at run (/app/dist/x.js:1:1)';
    const line = {
      event: 'invocation',
      phase: 'end',
      function: 'worker',
      outcome: 'failed',
      durationMs: 5,
      error: { name: error.name, message: error.message, stack: error.stack },
    };
    expect(formatLine(line, 'error', AT)).toBe(
      '09:04:05.123 ERROR worker    invocation end failed durationMs=5: TypeError: x is undefined (at worker.js:12)',
    );
    expect(formatLine(line, 'error', AT, true).split('\n')).toEqual([
      '09:04:05.123 ERROR worker    invocation end failed durationMs=5: TypeError: x is undefined',
      '    at work (/app/dist/shared/worker.js:12:5)',
      '    at run (/app/dist/x.js:1:1)',
    ]);
  });

  it('filters by LOG_LEVEL, read when each line is printed', () => {
    const written: string[] = [];
    const saved = process.env.LOG_LEVEL;
    try {
      process.env.LOG_LEVEL = 'warn';
      const log = consoleLogger({ write: (text) => written.push(text), now: () => AT });
      log({ event: 'host', phase: 'started', url: 'http://127.0.0.1:1' });
      log({ event: 'queue', phase: 'poisoned', function: 'worker', reason: 'maxDequeueCount reached' });
      process.env.LOG_LEVEL = 'debug';
      log({ event: 'timer', phase: 'skipped', function: 'poller' });
    } finally {
      if (saved === undefined) delete process.env.LOG_LEVEL;
      else process.env.LOG_LEVEL = saved;
    }
    expect(written).toEqual([
      '09:04:05.123 WARN  worker    poisoned reason="maxDequeueCount reached"\n',
      '09:04:05.123 DEBUG poller    skipped\n',
    ]);
  });
});
