import { pathSegment } from '../../shared/graph/graph-client';

describe('pathSegment', () => {
  it('refuses what the URL parser would resolve away (dots-only, even encoded) or leave empty', () => {
    // Why: WHATWG URL treats "..", "." and their %2E forms as dot segments.
    expect(new URL('https://g.example/v1.0/users/%2E%2E/chats').pathname).toBe('/v1.0/chats');
    for (const value of ['', '.', '..', '...']) expect(pathSegment(value)).toBeUndefined();
  });
  it('encodes what encodeURIComponent encodes and leaves the dots of a UPN alone', () => {
    expect(pathSegment("o'neil@contoso.com")).toBe("o'neil%40contoso.com");
    expect(pathSegment('a/b?c#d')).toBe('a%2Fb%3Fc%23d');
    expect(pathSegment('ana.lopez@contoso.com')).toBe('ana.lopez%40contoso.com');
    expect(new URL(`https://g.example/v1.0/users/${pathSegment('a/../b')}/chats`).pathname).toBe(
      '/v1.0/users/a%2F..%2Fb/chats',
    );
  });
  it("puts a guest's #EXT# UPN in one segment, whole: # would otherwise start a fragment and cut it short", () => {
    // Prepare
    const upn = 'ana_fabrikam.com#EXT#@contoso.onmicrosoft.com';

    // Act
    const url = new URL(`https://g.example/v1.0/users/${pathSegment(upn)}/chats`);

    // Assess
    expect(url.hash).toBe('');
    expect(url.pathname).toBe('/v1.0/users/ana_fabrikam.com%23EXT%23%40contoso.onmicrosoft.com/chats');
    expect(decodeURIComponent(url.pathname.split('/')[3]!)).toBe(upn);
  });
});
