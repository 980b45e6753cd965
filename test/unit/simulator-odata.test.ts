import {
  matchesChatFilter,
  parseChatFilter,
  parseResourcePath,
  parseTeamsAppBind,
  parseUserBind,
} from '../../dev/simulator/odata';

describe('parseUserBind', () => {
  it('reads ids and UPNs from the v1.0 users(...) form', () => {
    expect(parseUserBind("https://graph.microsoft.com/v1.0/users('8b081ef6-4792-4def-b2c9-c363a1bf41d5')")).toBe(
      '8b081ef6-4792-4def-b2c9-c363a1bf41d5',
    );
    expect(parseUserBind("https://graph.microsoft.com/v1.0/users('jacob@contoso.com')")).toBe('jacob@contoso.com');
  });

  it('unescapes doubled quotes inside the key', () => {
    expect(parseUserBind("https://graph.microsoft.com/v1.0/users('o''brien@contoso.com')")).toBe("o'brien@contoso.com");
  });

  it('reads the users/<id> form too (Graph takes it; its own add-member example uses it)', () => {
    expect(parseUserBind('https://graph.microsoft.com/v1.0/users/8b081ef6-4792-4def-b2c9-c363a1bf41d5')).toBe(
      '8b081ef6-4792-4def-b2c9-c363a1bf41d5',
    );
    expect(parseUserBind('https://graph.microsoft.com/v1.0/users/jacob@contoso.com')).toBe('jacob@contoso.com');
  });

  it("keeps a guest's #EXT# UPN whole in the quoted form", () => {
    expect(
      parseUserBind("https://graph.microsoft.com/v1.0/users('ana_fabrikam.com#EXT#@contoso.onmicrosoft.com')"),
    ).toBe('ana_fabrikam.com#EXT#@contoso.onmicrosoft.com');
  });

  it('refuses other hosts, versions and shapes', () => {
    expect(parseUserBind("https://localhost/v1.0/users('a')")).toBeUndefined();
    expect(parseUserBind("https://graph.microsoft.com/beta/users('a')")).toBeUndefined();
    expect(parseUserBind('https://graph.microsoft.com/v1.0/users/a/manager')).toBeUndefined();
    expect(parseUserBind('https://graph.microsoft.com/v1.0/users/')).toBeUndefined();
    // In a URL "#" starts a fragment: the key would be cut short, so the bind is not taken.
    expect(
      parseUserBind('https://graph.microsoft.com/v1.0/users/ana_fabrikam.com#EXT#@contoso.onmicrosoft.com'),
    ).toBeUndefined();
    expect(parseUserBind("https://graph.microsoft.com/v1.0/users('')")).toBeUndefined();
    expect(parseUserBind("https://graph.microsoft.com/v1.0/users('a'b')")).toBeUndefined();
  });
});

describe('parseTeamsAppBind', () => {
  it('accepts v1.0 and beta, plain and keyed', () => {
    expect(
      parseTeamsAppBind('https://graph.microsoft.com/beta/appCatalogs/teamsApps/12345678-9abc-def0-123456789a'),
    ).toBe('12345678-9abc-def0-123456789a');
    expect(parseTeamsAppBind("https://graph.microsoft.com/v1.0/appCatalogs/teamsApps('abc')")).toBe('abc');
    expect(parseTeamsAppBind('https://graph.microsoft.com/v2/appCatalogs/teamsApps/abc')).toBeUndefined();
  });
});

describe('parseResourcePath', () => {
  it('splits keyed and plain segments and decodes them', () => {
    expect(parseResourcePath("/chats('19%3Aabc%40thread.v2')/operations('op''1')")).toEqual([
      { name: 'chats', key: '19:abc@thread.v2' },
      { name: 'operations', key: "op'1" },
    ]);
    expect(parseResourcePath('/users/jacob%40contoso.com/chats')).toEqual([
      { name: 'users' },
      { name: 'jacob@contoso.com' },
      { name: 'chats' },
    ]);
  });

  it('gives undefined for broken percent-encoding', () => {
    expect(parseResourcePath('/chats/%E0%A4%A')).toBeUndefined();
  });
});

describe('parseChatFilter', () => {
  const chat = {
    chatType: 'group',
    topic: "Ana's welcome and more",
    createdAtMs: Date.parse('2024-05-01T10:00:00Z'),
    lastUpdatedAtMs: 0,
  };

  it('combines createdDateTime and chatType with and', () => {
    const parsed = parseChatFilter("createdDateTime ge 2024-05-01T00:00:00Z and chatType eq 'group'");
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.clauses).toHaveLength(2);
    expect(matchesChatFilter(chat, parsed.clauses)).toBe(true);
    expect(matchesChatFilter({ ...chat, chatType: 'oneOnOne' }, parsed.clauses)).toBe(false);
    expect(matchesChatFilter({ ...chat, createdAtMs: Date.parse('2024-04-30T23:59:59Z') }, parsed.clauses)).toBe(false);
  });

  it("keeps ' and ' inside a quoted literal", () => {
    const parsed = parseChatFilter("topic eq 'Ana''s welcome and more'");
    expect(parsed).toEqual({ ok: true, clauses: [{ field: 'topic', op: 'eq', value: "Ana's welcome and more" }] });
    if (parsed.ok) expect(matchesChatFilter(chat, parsed.clauses)).toBe(true);
  });

  it('accepts quoted dates and strict comparisons', () => {
    const parsed = parseChatFilter("createdDateTime gt '2024-05-01T10:00:00Z'");
    expect(parsed.ok && matchesChatFilter(chat, parsed.clauses)).toBe(false);
  });

  it('reports unsupported clauses', () => {
    expect(parseChatFilter('members/any(m: m/userId eq 1)')).toEqual({
      ok: false,
      message: expect.stringContaining('Invalid filter clause'),
    });
    expect(parseChatFilter('createdDateTime ge yesterday').ok).toBe(false);
  });
});
