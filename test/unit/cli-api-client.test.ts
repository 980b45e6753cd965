import {
  displayUrl,
  normalizeBaseUrl,
  parseRetryAfter,
  retryDelayMs,
  stateFromProblem,
  ApiClient,
  ApiError,
  NetworkError,
} from '../../cli/api-client';
import { describeFailure, exitCodeFor, ExitCode, UsageError } from '../../cli/exit-codes';
import { formatResultsCsv, readResultIds } from '../../cli/results-file';

describe('Retry-After and backoff', () => {
  const now = Date.parse('2026-11-24T12:00:00Z');

  it('reads delay-seconds, fractions included, and HTTP dates', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('2.128', now)).toBe(2128);
    expect(parseRetryAfter('Tue, 24 Nov 2026 12:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Tue, 24 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });

  it('waits what the API asked, else backs off exponentially with jitter up to a cap', () => {
    expect(retryDelayMs('1', 5, now, () => 0)).toBe(1000);
    expect(retryDelayMs(null, 1, now, () => 1)).toBe(500);
    expect(retryDelayMs(null, 3, now, () => 1)).toBe(2000);
    expect(retryDelayMs(null, 3, now, () => 0)).toBe(1000);
    expect(retryDelayMs(null, 20, now, () => 1)).toBe(30_000);
  });
});

describe('URLs', () => {
  it('normalizes the base URL and refuses keys or credentials in it', () => {
    expect(normalizeBaseUrl('http://localhost:7071/')).toBe('http://localhost:7071');
    expect(normalizeBaseUrl('https://app.azurewebsites.net/api')).toBe('https://app.azurewebsites.net');
    expect(() => normalizeBaseUrl('localhost:7071')).toThrow(/http/);
    expect(() => normalizeBaseUrl('https://app.azurewebsites.net/?code=abc')).toThrow(/CHAT_PROVISIONER_KEY/);
    expect(() => normalizeBaseUrl('https://u:p@app.azurewebsites.net')).toThrow(/credentials/);
  });

  it('shows URLs without their query string', () => {
    expect(displayUrl('https://app/api/requests?continuationToken=x&code=secret')).toBe('https://app/api/requests');
  });
});

describe('stateFromProblem', () => {
  it('finds the current state in an extension member or in the detail', () => {
    expect(stateFromProblem({ status: 409, state: 'succeeded' })).toBe('succeeded');
    expect(stateFromProblem({ status: 409, detail: 'The request is pending, not failed' })).toBe('pending');
    expect(stateFromProblem({ status: 409, title: 'Conflict' })).toBeUndefined();
  });
});

describe('exit codes and messages', () => {
  const problem = {
    type: 'about:blank',
    title: 'Invalid request',
    status: 400,
    detail: 'The body has 2 problems',
    errors: [
      { path: 'members[1]', message: 'duplicate' },
      { path: '', message: 'bad' },
    ],
  };

  it.each([
    [new UsageError('x'), ExitCode.usage],
    [new NetworkError('http://h/api/health', 'ECONNREFUSED'), ExitCode.unavailable],
    [new ApiError('m', 503, 'u'), ExitCode.unavailable],
    [new ApiError('m', 429, 'u'), ExitCode.unavailable],
    [new ApiError('m', 401, 'u'), ExitCode.usage],
    [new ApiError('m', 404, 'u'), ExitCode.someFailed],
    [new ApiError('m', 200, 'u'), ExitCode.unavailable],
  ])('%p → %d', (error, code) => {
    expect(exitCodeFor(error)).toBe(code);
  });

  it('prints a problem as its title, detail and field errors, never a stack', () => {
    // Act
    const lines = describeFailure(
      new ApiError('POST http://h/api/requests/batch answered 400 Invalid request', 400, 'u', problem),
    );

    // Assess
    expect(lines).toEqual([
      'Error: POST http://h/api/requests/batch answered 400 Invalid request',
      '  The body has 2 problems',
      '  - members[1]: duplicate',
      '  - (body): bad',
    ]);
  });

  it('says which URL could not be reached', () => {
    expect(describeFailure(new NetworkError('http://h:7071/api/health', 'ECONNREFUSED'))[0]).toBe(
      'Error: Could not reach http://h:7071/api/health (ECONNREFUSED).',
    );
  });
});

describe('results file', () => {
  it('writes one quoted CSV line per row and reads the request ids back', () => {
    // Prepare
    const text = formatResultsCsv([
      { line: 2, externalId: 'hr-1', status: 'accepted', requestId: 'r-1' },
      { line: 5, externalId: 'hr,2', status: 'rejected', errors: '=members entry 1: "x" unknown' },
      { line: 7, externalId: 'hr-3', status: 'replayed', requestId: 'r-3' },
    ]);

    // Act
    const { ids, problems } = readResultIds(text);

    // Assess
    expect(text.split('\r\n')).toEqual([
      'line,externalId,status,requestId,errors',
      '2,hr-1,accepted,r-1,',
      `5,"hr,2",rejected,,"'=members entry 1: ""x"" unknown"`,
      '7,hr-3,replayed,r-3,',
      '',
    ]);
    expect(problems).toEqual([]);
    expect(ids).toEqual(['r-1', 'r-3']);
  });

  it('refuses a file that is not a results file', () => {
    expect(readResultIds('externalId,chatType\nhr-1,group\n').problems[0]).toContain('requestId');
  });
});

describe('an address where nothing answers', () => {
  const failing = (code: string) => {
    let calls = 0;
    const fetch = (async () => {
      calls += 1;
      throw new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) });
    }) as unknown as typeof globalThis.fetch;
    return { fetch, calls: () => calls };
  };

  it.each(['ECONNREFUSED', 'ENOTFOUND', 'UND_ERR_CONNECT_TIMEOUT'])(
    '%s fails at once, naming the URL',
    async (code) => {
      const { fetch, calls } = failing(code);
      const sleeps: number[] = [];
      const client = new ApiClient({
        baseUrl: 'http://localhost:7072',
        fetch,
        sleep: async (ms) => void sleeps.push(ms),
      });
      await expect(client.getRequest('x')).rejects.toThrow(
        `Could not reach http://localhost:7072/api/requests/x (${code})`,
      );
      expect(calls()).toBe(1);
      expect(sleeps).toEqual([]);
    },
  );

  it('a dropped connection is retried', async () => {
    const { fetch, calls } = failing('ECONNRESET');
    const client = new ApiClient({
      baseUrl: 'http://localhost:7072',
      fetch,
      sleep: async () => undefined,
      maxAttempts: 3,
    });
    await expect(client.getRequest('x')).rejects.toThrow('(ECONNRESET)');
    expect(calls()).toBe(3);
  });
});
