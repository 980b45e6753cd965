import { FaultBook, matches, parseFaultScript } from '../../dev/simulator/faults';
import { maskedForm, maskedHeaders, RequestLog, routeTemplate } from '../../dev/simulator/request-log';

describe('FaultBook', () => {
  it('fires a script for the next N matching calls only, then lets calls through', () => {
    const book = new FaultBook();
    book.add({
      match: { method: 'post', pathPrefix: '/v1.0/chats' },
      count: 2,
      fault: { type: 'status', status: 503 },
    });
    expect(book.take('GET', '/v1.0/chats/x')).toBeUndefined();
    expect(book.take('POST', '/v1.0/chats')).toMatchObject({
      phase: 'before',
      fault: { type: 'status', status: 503 },
      source: 'script',
    });
    expect(book.take('POST', '/v1.0/chats?x=1')).toBeDefined();
    expect(book.take('POST', '/v1.0/chats')).toBeUndefined();
    expect(book.list()).toEqual([]);
    expect(book.fired.byType).toEqual({ 'before:503': 2 });
  });

  it('scripts an answer real Graph is known to give, by name, and refuses names it does not know', () => {
    const book = new FaultBook();
    book.add({ phase: 'after', fault: { type: 'graphError', error: 'invocationException' } });
    expect(book.take('POST', '/v1.0/chats')).toMatchObject({
      phase: 'after',
      fault: { type: 'graphError', error: 'invocationException' },
    });
    expect(book.fired.byType).toEqual({ 'after:invocationException': 1 });
    expect(() => parseFaultScript({ fault: { type: 'graphError', error: 'teapot' } }, 'x')).toThrow(
      /invocationException, applicationOnly, notFederated, noLicense/,
    );
  });

  it('uses scripts in the order they were added', () => {
    const book = new FaultBook();
    book.add({ phase: 'after', fault: { type: 'reset' } });
    book.add({ fault: { type: 'delay', ms: 5 } });
    expect(book.take('GET', '/a')).toMatchObject({ phase: 'after', fault: { type: 'reset' } });
    expect(book.take('GET', '/a')).toMatchObject({ phase: 'before', fault: { type: 'delay', ms: 5 } });
  });

  it('makes the same chaos decisions for the same seed, none at rate 0', () => {
    const decide = (seed: number) => {
      const book = new FaultBook();
      book.setChaos({ seed, rate: 0.3, kinds: ['503', 'after:reset', '429-no-retry-after'] });
      return Array.from({ length: 200 }, () => {
        const f = book.take('POST', '/v1.0/chats');
        return f
          ? `${f.phase}:${f.fault.type === 'status' ? `${f.fault.status}/${String(f.fault.retryAfter)}` : f.fault.type}`
          : '-';
      });
    };
    const first = decide(9);
    expect(decide(9)).toEqual(first);
    expect(decide(10)).not.toEqual(first);
    const fired = first.filter((d) => d !== '-').length;
    expect(fired).toBeGreaterThan(30);
    expect(fired).toBeLessThan(90);
    expect(new Set(first)).toEqual(new Set(['-', 'before:503/undefined', 'after:reset', 'before:429/null']));
    const off = new FaultBook();
    off.setChaos({ seed: 9, rate: 0 });
    expect(Array.from({ length: 50 }, () => off.take('POST', '/v1.0/chats')).every((f) => f === undefined)).toBe(true);
  });

  it('leaves the token endpoint and control paths alone under chaos unless matched', () => {
    const book = new FaultBook();
    book.setChaos({ seed: 1, rate: 1 });
    expect(book.take('POST', '/tenant/oauth2/v2.0/token')).toBeUndefined();
    expect(book.take('GET', '/beta/chats/x')).toBeDefined();
  });

  it.each([
    [{ fault: { type: 'status', status: 418 } }, /status/],
    [{ fault: { type: 'delay', ms: -1 } }, /ms/],
    [{ fault: { type: 'boom' } }, /type/],
    [{ count: 0, fault: { type: 'reset' } }, /count/],
    [{ phase: 'during', fault: { type: 'reset' } }, /phase/],
    [{ match: { pathRegex: '(' }, fault: { type: 'reset' } }, /regular expression/],
    [{ match: { pathPrefix: '/a', pathRegex: 'a' }, fault: { type: 'reset' } }, /not both/],
  ])('refuses a bad script %j', (input, message) => {
    expect(() => parseFaultScript(input, 'f')).toThrow(message);
  });

  it('matches regexes against the path with its query', () => {
    expect(matches({ pathRegex: '\\$top=5' }, 'GET', '/v1.0/users/x/chats?$top=5')).toBe(true);
    expect(matches({ pathPrefix: '/v1.0/users' }, 'GET', '/v1.0/users/x/chats?$top=5')).toBe(true);
    expect(matches({ pathPrefix: '/v1.0/chats?' }, 'GET', '/v1.0/chats?x')).toBe(false);
  });
});

describe('RequestLog', () => {
  it('keeps only the last N requests and keeps numbering', () => {
    const log = new RequestLog(3);
    for (let i = 0; i < 5; i += 1)
      log.finish(log.record({ time: '', method: 'GET', path: `/v1.0/chats/${i}`, headers: {}, body: null }), 200);
    expect(log.list().map((r) => r.seq)).toEqual([3, 4, 5]);
    expect(log.total).toBe(5);
    expect(log.byRoute).toEqual({ 'GET /v1.0/chats/{id}': { '200': 5 } });
    log.setLimit(2);
    expect(log.list().map((r) => r.seq)).toEqual([4, 5]);
    log.clear();
    expect(log.list()).toEqual([]);
    expect(log.record({ time: '', method: 'GET', path: '/', headers: {}, body: null }).seq).toBe(6);
  });

  it('groups routes by template and masks credentials', () => {
    expect(routeTemplate('GET', "/v1.0/chats('19:a@thread.v2')/operations('x')?y=1")).toBe(
      'GET /v1.0/chats/{id}/operations/{id}',
    );
    expect(routeTemplate('POST', '/tid/oauth2/v2.0/token')).toBe('POST /{id}/oauth2/v2.0/token');
    expect(maskedHeaders({ authorization: 'Bearer abc.def.ghi', 'x-a': ['1', '2'] })).toEqual({
      authorization: 'Bearer [redacted]',
      'x-a': '1, 2',
    });
    expect(maskedForm('client_id=a&client_secret=s3cret')).toBe('client_id=a&client_secret=%5Bredacted%5D');
  });
});
