import { matchRoute, parseRouteTemplate, routeConstraint, unknownConstraints } from '../../dev/host/route-template';

const match = (template: string, path: string): Record<string, string> | undefined =>
  matchRoute(parseRouteTemplate(template), path);

describe('route templates', () => {
  it('matches literals case-insensitively and ignores one trailing slash', () => {
    expect(match('api/requests', '/API/Requests/')).toEqual({});
    expect(match('api/requests', 'api/requests/extra')).toBeUndefined();
    expect(match('api/requests', 'api')).toBeUndefined();
  });

  it('captures parameters, percent-decoded except an encoded slash', () => {
    expect(match('api/requests/{id}', 'api/requests/a%20b')).toEqual({ id: 'a b' });
    expect(match('api/requests/{id}', 'api/requests/a%2Fb')).toEqual({ id: 'a%2Fb' });
    expect(match('api/requests/{id}/retry', 'api/requests/42/retry')).toEqual({ id: '42' });
  });

  it('handles optional parameters and defaults only when missing', () => {
    expect(match('api/items/{id?}', 'api/items')).toEqual({});
    expect(match('api/items/{id?}', 'api/items/7')).toEqual({ id: '7' });
    expect(match('api/items/{page=1}', 'api/items')).toEqual({ page: '1' });
    expect(match('api/items/{id}', 'api/items')).toBeUndefined();
  });

  it('captures the rest of the path with a catch-all', () => {
    expect(match('api/files/{*path}', 'api/files/a/b/c.txt')).toEqual({ path: 'a/b/c.txt' });
    expect(match('api/files/{**path}', 'api/files')).toEqual({});
  });

  it('matches complex segments', () => {
    expect(match('api/files/{name}.{ext}', 'api/files/report.pdf')).toEqual({ name: 'report', ext: 'pdf' });
    expect(match('api/files/{name}.{ext}', 'api/files/report')).toBeUndefined();
  });

  it('applies inline constraints', () => {
    const guid = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
    expect(match('api/r/{id:guid}', `api/r/${guid}`)).toEqual({ id: guid });
    expect(match('api/r/{id:guid}', 'api/r/nope')).toBeUndefined();
    expect(match('api/r/{id:int}', 'api/r/2147483648')).toBeUndefined();
    expect(match('api/r/{id:long:min(10)}', 'api/r/9')).toBeUndefined();
    expect(match('api/r/{id:long:min(10)}', 'api/r/10')).toEqual({ id: '10' });
    expect(match('api/r/{code:regex(^[a-z]{{3}}$)}', 'api/r/ABC')).toEqual({ code: 'ABC' });
    expect(match('api/r/{code:regex(^[a-z]{{3}}$)}', 'api/r/abcd')).toBeUndefined();
  });

  it.each([
    ['int', undefined, '-12', true],
    ['int', undefined, '1.5', false],
    ['bool', undefined, 'TRUE', true],
    ['alpha', undefined, 'abcXYZ', true],
    ['alpha', undefined, 'ab1', false],
    ['double', undefined, '-1.5e3', true],
    ['guid', undefined, '3f2504e04f8911d39a0c0305e82c3301', true],
    ['length', '2,3', 'abcd', false],
    ['length', '4', 'abcd', true],
    ['minlength', '2', 'a', false],
    ['maxlength', '2', 'ab', true],
    ['range', '1,5', '5', true],
    ['range', '1,5', '6', false],
    ['datetime', undefined, '2024-01-31', true],
  ])('constraint %s(%s) on %s → %s', (name, argument, value, expected) => {
    expect(routeConstraint(name, argument).accepts(value)).toBe(expected);
  });

  it('lets unknown constraints accept anything, and reports them', () => {
    const route = parseRouteTemplate('api/r/{id:shiny}');
    expect(matchRoute(route, 'api/r/x')).toEqual({ id: 'x' });
    expect(unknownConstraints(route)).toEqual(['shiny']);
  });

  it('rejects malformed templates', () => {
    expect(() => parseRouteTemplate('api/{id')).toThrow(/unclosed/);
    expect(() => parseRouteTemplate('api/{*rest}/more')).toThrow(/catch-all/);
    expect(() => parseRouteTemplate('api/{1d}')).toThrow(/parameter name/);
  });
});
