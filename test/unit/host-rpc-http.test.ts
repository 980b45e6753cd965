import { fromRpcHttp, toRpcHttp, toSetCookie } from '../../dev/host/rpc-http';

describe('toRpcHttp', () => {
  it('builds the nullable, lower-cased, comma-joined shape with the body as bytes', () => {
    // Act
    const rpc = toRpcHttp({
      method: 'POST',
      url: 'http://localhost:7071/api/echo/x?a=1&a=2&b=',
      rawHeaders: ['Content-Type', 'text/plain', 'X-Many', 'one', 'x-many', 'two'],
      params: { name: 'x' },
      body: Buffer.from('hi'),
    });
    // Assess
    expect(rpc).toEqual({
      method: 'POST',
      url: 'http://localhost:7071/api/echo/x?a=1&a=2&b=',
      nullableHeaders: { 'content-type': { value: 'text/plain' }, 'x-many': { value: 'one,two' } },
      nullableQuery: { a: { value: '1,2' }, b: { value: '' } },
      nullableParams: { name: { value: 'x' } },
      body: { bytes: new Uint8Array(Buffer.from('hi')) },
    });
  });

  it('sends no body for an empty one', () => {
    const rpc = toRpcHttp({ method: 'GET', url: 'http://h/api/x', rawHeaders: [], params: {}, body: Buffer.alloc(0) });
    expect(rpc.body).toBeUndefined();
  });
});

describe('fromRpcHttp', () => {
  it('is 200 with an empty body when the function returned nothing', () => {
    expect(fromRpcHttp(undefined)).toEqual({ status: 200, headers: [], body: Buffer.alloc(0) });
  });

  it('reads status, headers (minus the ones the server computes), cookies and a bytes body', () => {
    const out = fromRpcHttp({
      http: {
        statusCode: '201',
        headers: { 'content-type': 'application/json', 'content-length': '999', location: '/api/requests/1' },
        cookies: [{ name: 'a', value: 'b', sameSite: 'strict', secure: { value: true } }],
        body: { bytes: new Uint8Array([123, 125]) },
      },
    });
    expect(out).toEqual({
      status: 201,
      headers: [
        ['content-type', 'application/json'],
        ['location', '/api/requests/1'],
        ['set-cookie', 'a=b; path=/; secure; samesite=strict'],
      ],
      body: Buffer.from('{}'),
    });
  });

  it('falls back to 200 for an unparsable status and reads string bodies', () => {
    const out = fromRpcHttp({ http: { statusCode: 'teapot', body: { string: 'hé' } } });
    expect(out.status).toBe(200);
    expect(out.body.toString('utf8')).toBe('hé');
  });
});

describe('toSetCookie', () => {
  it('writes every attribute in ASP.NET order and encodes name/value', () => {
    expect(
      toSetCookie({
        name: 'n m',
        value: 'v;1',
        expires: { value: { seconds: 1_900_000_000 } },
        maxAge: { value: 60 },
        domain: { value: 'example.com' },
        path: { value: '/api' },
        sameSite: 'explicitNone',
        httpOnly: { value: true },
      }),
    ).toBe(
      'n%20m=v%3B1; expires=Sun, 17 Mar 2030 17:46:40 GMT; max-age=60; domain=example.com; path=/api; samesite=none; httponly',
    );
  });
});
