import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bindForUser, userFromBind } from '../../shared/core/request/binds';
import { FieldError, MAX_REPORTED_ERRORS } from '../../shared/core/request/fields';
import { payloadHash } from '../../shared/core/request/hash';
import { parseProvisioningRequest } from '../../shared/core/request/parse';
import { ParseOptions, ParsedRequest } from '../../shared/core/request/parsed';

const NOW = new Date('2025-01-15T10:00:00.000Z');
const FIXTURES = join(__dirname, '..', 'fixtures', 'graph-examples');
const FIXTURE_NAMES = [
  '003-example-1',
  '003-example-2',
  '003-example-3',
  '003-example-4',
  '003-example-5',
  '003-example-6',
  '003-example-7',
  '002-example-1',
  '002-example-2',
  '002-example-3',
];

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as Record<string, unknown>;
}

function accepted(body: unknown): ParsedRequest {
  const result = parseProvisioningRequest(body, NOW);
  if (!result.ok) throw new Error(`expected the body to be accepted, got ${JSON.stringify(result.errors, null, 2)}`);
  return result.value;
}

function rejected(body: unknown): FieldError[] {
  const result = parseProvisioningRequest(body, NOW);
  if (result.ok) throw new Error('expected the body to be rejected');
  return result.errors;
}

const GRAPH_MEMBER = (user: string, role = 'owner') => ({
  '@odata.type': '#microsoft.graph.aadUserConversationMember',
  roles: [role],
  'user@odata.bind': bindForUser(user),
});

const group = (extra: Record<string, unknown> = {}) => ({
  chatType: 'group',
  topic: 'Welcome Ana',
  members: ['ana@contoso.com', 'mgr@contoso.com', 'it@contoso.com'],
  ...extra,
});

const graphGroup = (extra: Record<string, unknown> = {}) => ({
  chatType: 'group',
  members: [GRAPH_MEMBER('ana@contoso.com'), GRAPH_MEMBER('mgr@contoso.com')],
  ...extra,
});

describe('parseProvisioningRequest: the Graph form', () => {
  it.each(FIXTURE_NAMES)('accepts %s and keeps it verbatim as graphBody', (name) => {
    // Prepare
    const body = fixture(name);

    // Act
    const value = accepted(body);

    // Assess: same content, same key order at every level
    expect(value.graphBody).toEqual(body);
    expect(JSON.stringify(value.graphBody)).toBe(JSON.stringify(body));
    expect(value.chatType).toBe(body.chatType);
    expect(value.members).toHaveLength((body.members as unknown[]).length);
    expect(value.externalId).toBeUndefined();
  });

  it('does not alias the input: changing graphBody leaves the body alone', () => {
    // Prepare
    const body = fixture('003-example-4');

    // Act
    const value = accepted(body);
    value.graphBody.members[0]!.roles.push('guest');

    // Assess
    expect(body).toEqual(fixture('003-example-4'));
  });

  it('accepts a non-GUID user id (existence is for Graph to judge) and reads the resource view', () => {
    // Act
    const value = accepted(fixture('003-example-6'));

    // Assess
    expect(value.topic).toBe('Group chat title');
    expect(value.members).toEqual([
      { user: '8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca', role: 'owner' },
      { user: '82fe7758-5bb3-4f0d-a43f-e555fd399c6f', role: 'owner' },
      { user: '8ba98gf6-7fc2-4eb2-c7f2-aef9f21fd98g', role: 'guest' },
    ]);
    expect(value.apps).toBeUndefined();
  });

  it('accepts a /beta/ app bind with a short id and reports the app', () => {
    // Act
    const value = accepted(fixture('002-example-3'));

    // Assess
    expect(value.apps).toEqual([{ teamsAppId: '12345678-9abc-def0-123456789a' }]);
  });

  it('reads tenantId, UPNs and RSC permissions into the resource view', () => {
    // Act
    const federated = accepted(fixture('003-example-7'));
    const upns = accepted(fixture('003-example-5'));
    const withRsc = accepted(fixture('003-example-4'));

    // Assess
    expect(federated.members[1]).toEqual({
      user: '82af01c5-f7cc-4a2e-a728-3a5df21afd9d',
      role: 'owner',
      tenantId: '4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1',
    });
    expect(upns.members.map((m) => m.user)).toEqual(['jacob@contoso.com', 'alex@contoso.com']);
    expect(withRsc.apps).toEqual([
      {
        teamsAppId: '8e55a7b1-6766-4f0a-8610-ecacfe3d569a',
        rscPermissions: [
          { permissionValue: 'ChatMessage.Read.Chat', permissionType: 'application' },
          { permissionValue: 'OnlineMeeting.ReadBasic.Chat', permissionType: 'application' },
        ],
      },
    ]);
  });

  it.each(FIXTURE_NAMES)('strips the service fields from %s and returns them', (name) => {
    // Prepare: service fields first, in the middle and last
    const graph = fixture(name);
    const entries = Object.entries(graph);
    const body = Object.fromEntries([
      ['externalId', 'hr-4711'],
      entries[0]!,
      ['callbackUrl', 'https://hooks.contoso.com/chats?case=4711'],
      ...entries.slice(1),
      ['notBefore', '2025-01-16T09:30:00+02:00'],
    ]);

    // Act
    const value = accepted(body);

    // Assess
    expect(JSON.stringify(value.graphBody)).toBe(JSON.stringify(graph));
    expect(value.externalId).toBe('hr-4711');
    expect(value.callbackUrl).toBe('https://hooks.contoso.com/chats?case=4711');
    expect(value.notBefore).toBe('2025-01-16T07:30:00.000Z');
  });

  it('accepts a top-level "@odata.type": "#microsoft.graph.chat" and keeps it in graphBody', () => {
    // Prepare
    const body = { '@odata.type': '#microsoft.graph.chat', ...fixture('003-example-1') };

    // Act
    const value = accepted(body);

    // Assess
    expect(value.graphBody).toEqual(body);
    expect(Object.keys(value.graphBody)[0]).toBe('@odata.type');
  });

  it('rejects any other top-level @odata.type', () => {
    // Act
    const errors = rejected({ '@odata.type': '#microsoft.graph.team', ...fixture('003-example-1') });

    // Assess
    expect(errors).toEqual([{ path: '["@odata.type"]', message: expect.stringContaining('#microsoft.graph.chat') }]);
  });
});

describe('parseProvisioningRequest: the compact form', () => {
  it('turns the compact example of docs/api.md into the canonical Graph body', () => {
    // Prepare
    const body = {
      chatType: 'group',
      topic: 'Welcome Ana',
      externalId: 'hr-4711',
      members: [
        'ana@contoso.com',
        { user: 'mgr@contoso.com', role: 'owner' },
        { user: 'x@fabrikam.com', role: 'guest' },
        { user: '82af01c5-f7cc-4a2e-a728-3a5df21afd9d', tenantId: '4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1' },
      ],
      apps: [{ teamsAppId: '05F59CEC-A742-4A50-A62E-202A57E478A4', rscPermissions: ['ChatMessage.Read.Chat'] }],
    };

    // Act
    const value = accepted(body);

    // Assess
    const expected = {
      chatType: 'group',
      topic: 'Welcome Ana',
      members: [
        {
          '@odata.type': '#microsoft.graph.aadUserConversationMember',
          roles: ['owner'],
          'user@odata.bind': "https://graph.microsoft.com/v1.0/users('ana@contoso.com')",
        },
        {
          '@odata.type': '#microsoft.graph.aadUserConversationMember',
          roles: ['owner'],
          'user@odata.bind': "https://graph.microsoft.com/v1.0/users('mgr@contoso.com')",
        },
        {
          '@odata.type': '#microsoft.graph.aadUserConversationMember',
          roles: ['guest'],
          'user@odata.bind': "https://graph.microsoft.com/v1.0/users('x@fabrikam.com')",
        },
        {
          '@odata.type': '#microsoft.graph.aadUserConversationMember',
          roles: ['owner'],
          'user@odata.bind': "https://graph.microsoft.com/v1.0/users('82af01c5-f7cc-4a2e-a728-3a5df21afd9d')",
          tenantId: '4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1',
        },
      ],
      installedApps: [
        {
          'teamsApp@odata.bind':
            'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/05F59CEC-A742-4A50-A62E-202A57E478A4',
          consentedPermissionSet: {
            resourceSpecificPermissions: [{ permissionValue: 'ChatMessage.Read.Chat', permissionType: 'application' }],
          },
        },
      ],
    };
    expect(JSON.stringify(value.graphBody)).toBe(JSON.stringify(expected));
    expect(value.externalId).toBe('hr-4711');
    expect(value.members).toEqual([
      { user: 'ana@contoso.com', role: 'owner' },
      { user: 'mgr@contoso.com', role: 'owner' },
      { user: 'x@fabrikam.com', role: 'guest' },
      { user: '82af01c5-f7cc-4a2e-a728-3a5df21afd9d', role: 'owner', tenantId: '4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1' },
    ]);
    expect(value.apps).toEqual([
      {
        teamsAppId: '05F59CEC-A742-4A50-A62E-202A57E478A4',
        rscPermissions: [{ permissionValue: 'ChatMessage.Read.Chat', permissionType: 'application' }],
      },
    ]);
  });

  it('builds a one-on-one body without topic or apps (same as Graph example 5)', () => {
    // Act
    const value = accepted({ chatType: 'oneOnOne', members: ['jacob@contoso.com', 'alex@contoso.com'] });

    // Assess
    expect(JSON.stringify(value.graphBody)).toBe(JSON.stringify(fixture('003-example-5')));
    expect(value.topic).toBeUndefined();
    expect(value.apps).toBeUndefined();
  });

  it('takes an RSC permission as an object too, with its own permissionType', () => {
    // Act
    const value = accepted(
      group({
        apps: [
          {
            teamsAppId: 'app-1',
            rscPermissions: [
              'ChatMessage.Read.Chat',
              { permissionValue: 'ChatSettings.Read.Chat', permissionType: 'delegated' },
            ],
          },
        ],
      }),
    );

    // Assess
    expect(value.graphBody.installedApps).toEqual([
      {
        'teamsApp@odata.bind': 'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/app-1',
        consentedPermissionSet: {
          resourceSpecificPermissions: [
            { permissionValue: 'ChatMessage.Read.Chat', permissionType: 'application' },
            { permissionValue: 'ChatSettings.Read.Chat', permissionType: 'delegated' },
          ],
        },
      },
    ]);
  });

  it("escapes a ' in a UPN and accepts ', a lone % and unicode letters", () => {
    // Act
    const value = accepted({ chatType: 'oneOnOne', members: ["o'brien@contoso.com", 'jürgen%x@contoso.com'] });

    // Assess
    expect(value.graphBody.members.map((m) => m['user@odata.bind'])).toEqual([
      "https://graph.microsoft.com/v1.0/users('o''brien@contoso.com')",
      "https://graph.microsoft.com/v1.0/users('jürgen%x@contoso.com')",
    ]);
    expect(value.members.map((m) => m.user)).toEqual(["o'brien@contoso.com", 'jürgen%x@contoso.com']);
  });

  it('returns the service fields and never puts them in graphBody', () => {
    // Act
    const value = accepted(
      group({ externalId: 'hr-1', callbackUrl: 'https://hooks.contoso.com/x', notBefore: '2025-06-01T08:00:00Z' }),
    );

    // Assess
    expect(Object.keys(value.graphBody)).toEqual(['chatType', 'topic', 'members']);
    expect(value).toMatchObject({
      externalId: 'hr-1',
      callbackUrl: 'https://hooks.contoso.com/x',
      notBefore: '2025-06-01T08:00:00.000Z',
    });
  });
});

describe('parseProvisioningRequest: one rule, one error', () => {
  const long = (n: number) => 'x'.repeat(n);
  const cases: [string, unknown, string, RegExp][] = [
    ['a body that is not an object', ['a'], '', /must be a JSON object.*an array/],
    ['null', null, '', /must be a JSON object.*null/],
    ['an unknown chatType', group({ chatType: 'channel' }), 'chatType', /"oneOnOne" or "group".*"channel"/],
    ['a meeting chat', group({ chatType: 'meeting' }), 'chatType', /meeting chats are created by Teams meetings/],
    ['a missing chatType', { members: ['a@x.com', 'b@x.com'] }, 'chatType', /chatType is required/],
    [
      'a oneOnOne with 3 members',
      { chatType: 'oneOnOne', members: ['a@x.com', 'b@x.com', 'c@x.com'] },
      'members',
      /exactly 2 distinct members; got 3/,
    ],
    [
      'a oneOnOne with 1 member',
      { chatType: 'oneOnOne', members: ['a@x.com'] },
      'members',
      /exactly 2 distinct members; got 1/,
    ],
    [
      'a topic on a oneOnOne',
      { chatType: 'oneOnOne', topic: 'Hi', members: ['a@x.com', 'b@x.com'] },
      'topic',
      /^Setting topic is not allowed for 1-on-1 chats/,
    ],
    ['a topic over 250 characters', group({ topic: long(251) }), 'topic', /251 characters; at most 250/],
    ['a topic with ":"', group({ topic: 'Re: onboarding' }), 'topic', /must not contain ":"/],
    ['an empty topic', group({ topic: ' ' }), 'topic', /must not be empty/],
    [
      'a group with 1 member',
      { chatType: 'group', members: ['a@x.com'] },
      'members',
      /at least 2 distinct members; got 1/,
    ],
    [
      'a group of more than 200 members',
      { chatType: 'group', members: Array.from({ length: 201 }, (_, i) => `u${i}@x.com`) },
      'members',
      /at most 200 members.*Teams adds at most 200 people at a time.*got 201/,
    ],
    [
      'a compact role other than owner/guest',
      group({ members: ['a@x.com', { user: 'b@x.com', role: 'member' }] }),
      'members[1].role',
      /"member" is not supported: use "owner" or "guest"/,
    ],
    [
      'a Graph role other than owner/guest',
      graphGroup({ members: [GRAPH_MEMBER('a@x.com', 'member'), GRAPH_MEMBER('b@x.com')] }),
      'members[0].roles[0]',
      /"member" is not supported/,
    ],
    [
      'Graph roles that are not an array',
      graphGroup({ members: [{ ...GRAPH_MEMBER('a@x.com'), roles: 'owner' }, GRAPH_MEMBER('b@x.com')] }),
      'members[0].roles',
      /an array with exactly one role/,
    ],
    [
      'Graph roles with two roles',
      graphGroup({ members: [{ ...GRAPH_MEMBER('a@x.com'), roles: ['owner', 'guest'] }, GRAPH_MEMBER('b@x.com')] }),
      'members[0].roles',
      /exactly one role.*got 2/,
    ],
    [
      'Graph roles that are empty',
      graphGroup({ members: [{ ...GRAPH_MEMBER('a@x.com'), roles: [] }, GRAPH_MEMBER('b@x.com')] }),
      'members[0].roles',
      /exactly one role.*got 0/,
    ],
    [
      'a Graph member without @odata.type',
      graphGroup({
        members: [{ roles: ['owner'], 'user@odata.bind': bindForUser('a@x.com') }, GRAPH_MEMBER('b@x.com')],
      }),
      'members[0]["@odata.type"]',
      /@odata.type is required on a Graph member/,
    ],
    [
      'a Graph member with a wrong @odata.type',
      graphGroup({
        members: [
          { ...GRAPH_MEMBER('a@x.com'), '@odata.type': '#microsoft.graph.conversationMember' },
          GRAPH_MEMBER('b@x.com'),
        ],
      }),
      'members[0]["@odata.type"]',
      /must be "#microsoft.graph.aadUserConversationMember"/,
    ],
    [
      'a bind that names something other than a user',
      graphGroup({
        members: [
          { ...GRAPH_MEMBER('a@x.com'), 'user@odata.bind': 'https://graph.microsoft.com/v1.0/users/a@x.com/manager' },
          GRAPH_MEMBER('b@x.com'),
        ],
      }),
      'members[0]["user@odata.bind"]',
      /must be https:\/\/graph.microsoft.com\/v1.0\/users\('<object id or UPN>'\) or \.\.\.\/users\/<object id or UPN>/,
    ],
    [
      'a bind to another host',
      graphGroup({
        members: [
          { ...GRAPH_MEMBER('a@x.com'), 'user@odata.bind': "https://evil.example/v1.0/users('a@x.com')" },
          GRAPH_MEMBER('b@x.com'),
        ],
      }),
      'members[0]["user@odata.bind"]',
      /users\('<object id or UPN>'\)/,
    ],
    [
      'a bind with badly formed quoting',
      graphGroup({
        members: [
          { ...GRAPH_MEMBER('a@x.com'), 'user@odata.bind': "https://graph.microsoft.com/v1.0/users('o'brien@x.com')" },
          GRAPH_MEMBER('b@x.com'),
        ],
      }),
      'members[0]["user@odata.bind"]',
      /written as ''/,
    ],
    [
      'a bind whose user holds a space',
      graphGroup({ members: [GRAPH_MEMBER('a b@x.com'), GRAPH_MEMBER('b@x.com')] }),
      'members[0]["user@odata.bind"]',
      /contains a space/,
    ],
    ['an empty compact user', group({ members: ['', 'b@x.com'] }), 'members[0]', /user is empty/],
    ['a compact user with "/"', group({ members: ['a/b@x.com', 'b@x.com'] }), 'members[0]', /contains "\/"/],
    ['a compact user with "\\"', group({ members: ['a\\b@x.com', 'b@x.com'] }), 'members[0]', /contains "\\"/],
    [
      'a compact user with "?"',
      group({ members: [{ user: 'a?b@x.com' }, 'b@x.com'] }),
      'members[0].user',
      /contains "\?"/,
    ],
    ['a compact user with a tab', group({ members: ['a\tb@x.com', 'b@x.com'] }), 'members[0]', /U\+0009/],
    ['a compact user of ".."', group({ members: ['..', 'b@x.com'] }), 'members[0]', /only dots/],
    [
      'a Graph member of "."',
      graphGroup({ members: [GRAPH_MEMBER('.'), GRAPH_MEMBER('b@x.com')] }),
      'members[0]["user@odata.bind"]',
      /only dots/,
    ],
    ['a compact user with NUL', group({ members: ['a\u0000b@x.com', 'b@x.com'] }), 'members[0]', /U\+0000/],
    [
      'a tenantId that is not a GUID',
      group({ members: ['a@x.com', { user: 'b@x.com', tenantId: 'fabrikam.com' }] }),
      'members[1].tenantId',
      /tenantId must be a GUID.*"fabrikam.com"/,
    ],
    ['two compact apps', group({ apps: [{ teamsAppId: 'a' }, { teamsAppId: 'b' }] }), 'apps', /At most 1 app.*got 2/],
    [
      'two Graph apps',
      graphGroup({
        installedApps: [
          { 'teamsApp@odata.bind': 'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/a' },
          { 'teamsApp@odata.bind': 'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/b' },
        ],
      }),
      'installedApps',
      /At most 1 app/,
    ],
    [
      'an app bind outside the app catalog',
      graphGroup({ installedApps: [{ 'teamsApp@odata.bind': 'https://graph.microsoft.com/v1.0/teamsApps/a' }] }),
      'installedApps[0]["teamsApp@odata.bind"]',
      /appCatalogs\/teamsApps\/<app id>/,
    ],
    [
      'an app bind with an empty id',
      graphGroup({
        installedApps: [{ 'teamsApp@odata.bind': 'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/' }],
      }),
      'installedApps[0]["teamsApp@odata.bind"]',
      /is empty/,
    ],
    [
      'an app bind with "?" in the id',
      graphGroup({
        installedApps: [{ 'teamsApp@odata.bind': 'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/a?x=1' }],
      }),
      'installedApps[0]["teamsApp@odata.bind"]',
      /contains "\?"/,
    ],
    ['a compact app id with "/"', group({ apps: [{ teamsAppId: 'a/b' }] }), 'apps[0].teamsAppId', /contains "\/"/],
    [
      'a Graph RSC permissionType other than application/delegated',
      graphGroup({
        installedApps: [
          {
            'teamsApp@odata.bind': 'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/a',
            consentedPermissionSet: {
              resourceSpecificPermissions: [{ permissionValue: 'ChatMessage.Read.Chat', permissionType: 'admin' }],
            },
          },
        ],
      }),
      'installedApps[0].consentedPermissionSet.resourceSpecificPermissions[0].permissionType',
      /"admin" is not supported: use "application" or "delegated"/,
    ],
    [
      'a compact RSC permissionType other than application/delegated',
      group({
        apps: [{ teamsAppId: 'a', rscPermissions: [{ permissionValue: 'X.Read.Chat', permissionType: 'user' }] }],
      }),
      'apps[0].rscPermissions[0].permissionType',
      /"user" is not supported/,
    ],
    [
      'an empty rscPermissions',
      group({ apps: [{ teamsAppId: 'a', rscPermissions: [] }] }),
      'apps[0].rscPermissions',
      /at least one/,
    ],
    [
      'a notBefore that is not a date-time',
      group({ notBefore: 'tomorrow' }),
      'notBefore',
      /ISO 8601 date-time with an offset.*"tomorrow"/,
    ],
    ['a notBefore without offset', group({ notBefore: '2025-02-01T08:00:00' }), 'notBefore', /with an offset/],
    ['a notBefore on a day that does not exist', group({ notBefore: '2025-02-30T08:00:00Z' }), 'notBefore', /ISO 8601/],
    [
      'a notBefore more than a year ahead',
      group({ notBefore: '2026-01-15T10:00:01Z' }),
      'notBefore',
      /at most one year ahead/,
    ],
    ['a notBefore that is a number', group({ notBefore: 1736935200 }), 'notBefore', /must be an ISO 8601.*the number/],
    ['an http callbackUrl', group({ callbackUrl: 'http://hooks.contoso.com/x' }), 'callbackUrl', /https:\/\/.*"http"/],
    ['a relative callbackUrl', group({ callbackUrl: '/hooks' }), 'callbackUrl', /not a URL/],
    [
      'a callbackUrl with a password',
      group({ callbackUrl: 'https://u:p@hooks.contoso.com/x' }),
      'callbackUrl',
      /user name or password/,
    ],
    ['an empty externalId', group({ externalId: '' }), 'externalId', /1 to 128 characters; it has 0/],
    ['an externalId over 128 characters', group({ externalId: long(129) }), 'externalId', /it has 129/],
    ['an externalId with a control character', group({ externalId: 'hr\n4711' }), 'externalId', /control characters/],
    ['an unknown top-level field', group({ priority: 'high' }), 'priority', /Unknown field "priority"/],
    [
      'an unknown field on a Graph member',
      graphGroup({ members: [{ ...GRAPH_MEMBER('a@x.com'), foo: 1 }, GRAPH_MEMBER('b@x.com')] }),
      'members[0].foo',
      /Unknown field "foo": A Graph member has only these fields: @odata.type, roles, user@odata.bind, tenantId/,
    ],
    [
      'an unknown field on a compact member',
      group({ members: ['a@x.com', { user: 'b@x.com', email: 'b@x.com' }] }),
      'members[1].email',
      /Unknown field "email"/,
    ],
    [
      'an unknown field in consentedPermissionSet',
      graphGroup({
        installedApps: [
          {
            'teamsApp@odata.bind': 'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/a',
            consentedPermissionSet: { resourceSpecificPermissions: [], extra: true },
          },
        ],
      }),
      'installedApps[0].consentedPermissionSet.extra',
      /Unknown field "extra"/,
    ],
    [
      'compact apps beside Graph members',
      graphGroup({ apps: [{ teamsAppId: 'a' }] }),
      'apps',
      /"apps" belongs to the compact form, but the body is in the Graph form/,
    ],
    [
      'Graph installedApps beside compact members',
      group({ installedApps: [{ 'teamsApp@odata.bind': 'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/a' }] }),
      'installedApps',
      /"installedApps" belongs to the Graph form, but the body is in the compact form/,
    ],
    [
      'a compact string among Graph members',
      graphGroup({ members: [GRAPH_MEMBER('a@x.com'), GRAPH_MEMBER('b@x.com'), 'c@x.com'] }),
      'members[2]',
      /This member is a string \(the compact form\), but the body is in the Graph form.*see members\[0\]/,
    ],
    [
      'a Graph member among compact members',
      group({ members: ['a@x.com', 'b@x.com', GRAPH_MEMBER('c@x.com')] }),
      'members[2]',
      /This member is a Graph member object \(the Graph form\), but the body is in the compact form/,
    ],
    [
      'a member that is a number',
      group({ members: ['a@x.com', 'b@x.com', 7] }),
      'members[2]',
      /A member must be a user id or UPN string.*the number 7/,
    ],
    ['members that are not an array', { chatType: 'group', members: 'a@x.com' }, 'members', /members must be an array/],
  ];

  it.each(cases)('reports %s', (_name, body, path, message) => {
    // Act
    const errors = rejected(body);

    // Assess
    const at = errors.filter((e) => e.path === path);
    expect(at).not.toHaveLength(0);
    expect(at.map((e) => e.message).join('\n')).toMatch(message);
  });

  it('reports a duplicate (case-insensitive) naming both positions, across compact shapes', () => {
    // Act
    const errors = rejected(
      group({ members: ['ana@contoso.com', 'mgr@contoso.com', { user: 'ANA@Contoso.com', role: 'guest' }] }),
    );

    // Assess
    expect(errors).toEqual([
      {
        path: 'members[2]',
        message: '"ANA@Contoso.com" is the same user as members[0]; each user can be a member only once',
      },
    ]);
  });

  it('reports a duplicate in the Graph form even when one bind is v1.0 and the other beta', () => {
    // Prepare
    const beta = { ...GRAPH_MEMBER('a@x.com'), 'user@odata.bind': "https://graph.microsoft.com/beta/users('A@X.com')" };

    // Act
    const errors = rejected({ chatType: 'oneOnOne', members: [GRAPH_MEMBER('a@x.com'), beta] });

    // Assess
    expect(errors.map((e) => e.path)).toEqual(['members[1]', 'members']);
    expect(errors[0]!.message).toMatch(/same user as members\[0\]/);
    expect(errors[1]!.message).toMatch(/exactly 2 distinct members; got 1/);
  });

  it('accepts a notBefore in the past and one just under a year ahead', () => {
    // Act
    const past = accepted(group({ notBefore: '2020-01-01T00:00:00-05:00' }));
    const nearYear = accepted(group({ notBefore: '2026-01-15T10:00:00Z' }));

    // Assess
    expect(past.notBefore).toBe('2020-01-01T05:00:00.000Z');
    expect(nearYear.notBefore).toBe('2026-01-15T10:00:00.000Z');
  });

  it('knows leap days: 2024-02-29 exists, 2025-02-29 does not', () => {
    // Act
    const leap = accepted(group({ notBefore: '2024-02-29T23:30:00-01:00' }));
    const errors = rejected(group({ notBefore: '2025-02-29T00:00:00Z' }));

    // Assess
    expect(leap.notBefore).toBe('2024-03-01T00:30:00.000Z');
    expect(errors.map((e) => e.path)).toEqual(['notBefore']);
  });

  it('does not double-report a field written in the other form as unknown', () => {
    // Act
    const errors = rejected(graphGroup({ apps: [{ teamsAppId: 'a' }] }));

    // Assess
    expect(errors).toHaveLength(1);
    expect(errors[0]!.path).toBe('apps');
  });
});

describe('parseProvisioningRequest: many problems at once', () => {
  it('reports every problem in one body, not just the first', () => {
    // Prepare
    const body = {
      chatType: 'oneOnOne',
      topic: 'Hello: world',
      externalId: '',
      notBefore: 'soon',
      callbackUrl: 'ftp://x',
      color: 'blue',
      members: ['a@x.com', { user: 'A@x.com', role: 'admin', tenantId: 'nope' }, 'c d@x.com', 'e@x.com'],
      apps: [{ teamsAppId: 'a' }, { teamsAppId: 'b', rscPermissions: [{ permissionValue: 'P', permissionType: 'x' }] }],
    };

    // Act
    const errors = rejected(body);

    // Assess
    const paths = errors.map((e) => e.path).sort();
    expect(paths).toEqual(
      [
        'apps',
        'apps[1].rscPermissions[0].permissionType',
        'callbackUrl',
        'color',
        'externalId',
        'members',
        'members[1]',
        'members[1].role',
        'members[1].tenantId',
        'members[2]',
        'notBefore',
        'topic',
        'topic',
      ].sort(),
    );
    for (const error of errors) expect(error.message.length).toBeGreaterThan(10);
  });

  it('lists at most the first problems and says how many more there are', () => {
    // Prepare
    const members = Array.from({ length: 300 }, () => 42);

    // Act
    const errors = rejected({ chatType: 'group', members });

    // Assess
    expect(errors).toHaveLength(MAX_REPORTED_ERRORS + 1);
    expect(errors.at(-1)).toEqual({ path: '', message: expect.stringMatching(/more problems/) });
  });
});

describe('bindForUser / userFromBind', () => {
  it("doubles ' and reads it back", () => {
    // Act
    const bind = bindForUser("o'brien");

    // Assess
    expect(bind).toBe("https://graph.microsoft.com/v1.0/users('o''brien')");
    expect(userFromBind(bind)).toBe("o'brien");
  });

  it('reads v1.0 and beta binds of every Graph cloud, in both forms, and nothing else', () => {
    // Assess
    expect(userFromBind("https://graph.microsoft.com/beta/users('a@x.com')")).toBe('a@x.com');
    expect(userFromBind('https://graph.microsoft.com/v1.0/users/a@x.com')).toBe('a@x.com');
    expect(userFromBind("https://graph.microsoft.us/v1.0/users('a@x.com')")).toBe('a@x.com');
    expect(userFromBind('https://dod-graph.microsoft.us/v1.0/users/a')).toBe('a');
    expect(userFromBind("https://microsoftgraph.chinacloudapi.cn/beta/users('a')")).toBe('a');
    expect(userFromBind("https://graph.microsoft.com/v1.0/users('a#EXT#@x.com')")).toBe('a#EXT#@x.com');
    expect(userFromBind("https://graph.microsoft.com/v1.0/users('a'')")).toBeUndefined();
    expect(userFromBind("https://graph.microsoft.com/v1.0/users('a')/manager")).toBeUndefined();
    expect(userFromBind('https://graph.microsoft.com/v1.0/users/a/manager')).toBeUndefined();
    expect(userFromBind('https://graph.microsoft.com/v1.0/users/')).toBeUndefined();
    expect(userFromBind("http://graph.microsoft.com/v1.0/users('a')")).toBeUndefined();
    expect(userFromBind("https://graph.microsoft.com/v2.0/users('a')")).toBeUndefined();
    expect(userFromBind("https://graph.example.com/v1.0/users('a')")).toBeUndefined();
  });
});

describe('payloadHash', () => {
  const hash = (body: unknown) => payloadHash(accepted(body));

  it('is a sha256 hex digest', () => {
    expect(hash(fixture('003-example-1'))).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is the same for the same meaning: form, key order, member order, case, v1.0/beta, notBefore offset', () => {
    // Prepare
    const graph = { ...fixture('003-example-5'), notBefore: '2025-02-01T09:00:00+01:00', externalId: 'e-1' };
    const compact = {
      externalId: 'e-1',
      notBefore: '2025-02-01T08:00:00Z',
      members: [{ user: 'ALEX@contoso.com', role: 'owner' }, 'jacob@contoso.com'],
      chatType: 'oneOnOne',
    };
    const beta = JSON.parse(JSON.stringify(graph).replace(/\/v1\.0\//g, '/beta/')) as unknown;

    // Act / Assess
    expect(hash(compact)).toBe(hash(graph));
    expect(hash(beta)).toBe(hash(graph));
  });

  it('differs when the meaning differs', () => {
    // Prepare
    const base = group({ externalId: 'e-1' });
    const variants = [
      group({ externalId: 'e-2' }),
      group({ externalId: 'e-1', topic: 'Welcome Ana!' }),
      group({
        externalId: 'e-1',
        members: ['ana@contoso.com', 'mgr@contoso.com', { user: 'it@contoso.com', role: 'guest' }],
      }),
      group({ externalId: 'e-1', callbackUrl: 'https://hooks.contoso.com/a' }),
      group({ externalId: 'e-1', notBefore: '2025-02-01T08:00:00Z' }),
      group({ externalId: 'e-1', apps: [{ teamsAppId: 'a' }] }),
      group({ externalId: 'e-1', members: ['ana@contoso.com', 'mgr@contoso.com'] }),
    ];

    // Act
    const hashes = new Set([base, ...variants].map(hash));

    // Assess
    expect(hashes.size).toBe(variants.length + 1);
  });
});

describe('http callbacks to localhost (local run only)', () => {
  const body = {
    chatType: 'oneOnOne',
    members: ['a@contoso.com', 'b@contoso.com'],
    callbackUrl: 'http://localhost:9000/hook',
  };
  it('are refused by default, naming the setting', () => {
    const result = parseProvisioningRequest(body, new Date());
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors).toEqual([
      expect.objectContaining({ path: 'callbackUrl', message: expect.stringContaining('ALLOW_LOCALHOST_CALLBACKS') }),
    ]);
  });
  it('are accepted when the local run allows them, but never to other hosts', () => {
    expect(parseProvisioningRequest(body, new Date(), { allowLoopbackHttpCallback: true }).ok).toBe(true);
    const remote = parseProvisioningRequest({ ...body, callbackUrl: 'http://hooks.contoso.com/x' }, new Date(), {
      allowLoopbackHttpCallback: true,
    });
    expect(remote.ok).toBe(false);
  });
});

describe('real inputs: guest UPNs, bind forms, clouds, null topic, visible history', () => {
  const GUEST = 'ana_fabrikam.com#EXT#@contoso.onmicrosoft.com';
  const TENANT = '2a1c3b4d-0000-4000-8000-00000000c0de';
  const OTHER_TENANT = '4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1';
  const withOptions = (body: unknown, options: ParseOptions) => parseProvisioningRequest(body, NOW, options);

  it('accepts a guest UPN with #EXT# in the compact form and binds exactly that UPN', () => {
    // Act
    const value = accepted(group({ members: ['ana@contoso.com', 'mgr@contoso.com', { user: GUEST, role: 'guest' }] }));

    // Assess
    expect(value.graphBody.members[2]!['user@odata.bind']).toBe(`https://graph.microsoft.com/v1.0/users('${GUEST}')`);
    expect(value.members[2]).toEqual({ user: GUEST, role: 'guest' });
  });

  it("accepts a guest UPN with #EXT# in a users('…') bind and keeps the bind as written", () => {
    // Prepare
    const bind = `https://graph.microsoft.com/v1.0/users('${GUEST}')`;
    const body = graphGroup({
      members: [GRAPH_MEMBER('ana@contoso.com'), { ...GRAPH_MEMBER('x'), roles: ['guest'], 'user@odata.bind': bind }],
    });

    // Act
    const value = accepted(body);

    // Assess
    expect(value.graphBody.members[1]!['user@odata.bind']).toBe(bind);
    expect(value.members[1]).toEqual({ user: GUEST, role: 'guest' });
  });

  it('refuses a # in the users/<id> form, where it would start a URL fragment, and names the other form', () => {
    // Prepare
    const bind = `https://graph.microsoft.com/v1.0/users/${GUEST}`;

    // Act
    const errors = rejected(
      graphGroup({ members: [GRAPH_MEMBER('a@x.com'), { ...GRAPH_MEMBER('x'), 'user@odata.bind': bind }] }),
    );

    // Assess
    expect(errors).toEqual([
      {
        path: 'members[1]["user@odata.bind"]',
        message: expect.stringMatching(/"#".*fragment.*users\('ana_fabrikam\.com#EXT#@contoso\.onmicrosoft\.com'\)/),
      },
    ]);
  });

  it('accepts the users/<id> bind form (v1.0 and beta) verbatim and reads its user', () => {
    // Prepare
    const body = graphGroup({
      members: [
        {
          ...GRAPH_MEMBER('x'),
          'user@odata.bind': 'https://graph.microsoft.com/v1.0/users/8b081ef6-4792-4def-b2c9-c363a1bf41d5',
        },
        { ...GRAPH_MEMBER('x'), 'user@odata.bind': 'https://graph.microsoft.com/beta/users/lee@contoso.com' },
      ],
    });

    // Act
    const value = accepted(body);

    // Assess
    expect(JSON.stringify(value.graphBody)).toBe(JSON.stringify(body));
    expect(value.members.map((m) => m.user)).toEqual(['8b081ef6-4792-4def-b2c9-c363a1bf41d5', 'lee@contoso.com']);
  });

  it("counts users('x') and users/x as the same user, for duplicates and for the payload hash", () => {
    // Prepare
    const path = { ...GRAPH_MEMBER('x'), 'user@odata.bind': 'https://graph.microsoft.com/v1.0/users/A@x.com' };

    // Act
    const errors = rejected({ chatType: 'group', members: [GRAPH_MEMBER('a@x.com'), path, GRAPH_MEMBER('b@x.com')] });
    const one = accepted(graphGroup({ members: [GRAPH_MEMBER('a@x.com'), GRAPH_MEMBER('b@x.com')] }));
    const other = accepted(graphGroup({ members: [path, GRAPH_MEMBER('b@x.com')] }));

    // Assess
    expect(errors).toEqual([{ path: 'members[1]', message: expect.stringMatching(/same user as members\[0\]/) }]);
    expect(payloadHash(other)).toBe(payloadHash(one));
  });

  it.each([
    ['https://graph.microsoft.us', 'graph.microsoft.us'],
    ['https://dod-graph.microsoft.us', 'dod-graph.microsoft.us'],
    ['https://microsoftgraph.chinacloudapi.cn/', 'microsoftgraph.chinacloudapi.cn'],
  ])('with GRAPH_BASE_URL %s, accepts binds to %s and writes compact binds there', (graphBaseUrl, host) => {
    // Prepare
    const national = graphGroup({
      members: [
        { ...GRAPH_MEMBER('x'), 'user@odata.bind': `https://${host}/v1.0/users('a@x.com')` },
        { ...GRAPH_MEMBER('x'), 'user@odata.bind': `https://${host}/v1.0/users/b@x.com` },
      ],
      installedApps: [{ 'teamsApp@odata.bind': `https://${host}/v1.0/appCatalogs/teamsApps/app-1` }],
    });

    // Act
    const graph = withOptions(national, { graphBaseUrl });
    const compact = withOptions(group({ apps: [{ teamsAppId: 'app-1' }] }), { graphBaseUrl });

    // Assess
    expect(graph.ok).toBe(true);
    expect(compact.ok && compact.value.graphBody.members[0]!['user@odata.bind']).toBe(
      `https://${host}/v1.0/users('ana@contoso.com')`,
    );
    expect(compact.ok && compact.value.graphBody.installedApps?.[0]?.['teamsApp@odata.bind']).toBe(
      `https://${host}/v1.0/appCatalogs/teamsApps/app-1`,
    );
  });

  it("refuses a bind to another cloud's Graph than GRAPH_BASE_URL's, naming both", () => {
    // Prepare
    const usBind = { ...GRAPH_MEMBER('x'), 'user@odata.bind': "https://graph.microsoft.us/v1.0/users('a@x.com')" };
    const body = graphGroup({
      members: [usBind, GRAPH_MEMBER('b@x.com')],
      installedApps: [{ 'teamsApp@odata.bind': 'https://graph.microsoft.us/v1.0/appCatalogs/teamsApps/a' }],
    });

    // Act
    const global = withOptions(body, { graphBaseUrl: 'https://graph.microsoft.com' });
    const simulator = withOptions(body, { graphBaseUrl: 'https://localhost:8443' });
    const us = withOptions(graphGroup(), { graphBaseUrl: 'https://graph.microsoft.us' });

    // Assess
    for (const result of [global, simulator]) {
      expect(!result.ok && result.errors).toEqual([
        {
          path: 'members[0]["user@odata.bind"]',
          message: expect.stringMatching(/graph\.microsoft\.us.*GRAPH_BASE_URL.*graph\.microsoft\.com/),
        },
        {
          path: 'installedApps[0]["teamsApp@odata.bind"]',
          message: expect.stringMatching(/graph\.microsoft\.us.*GRAPH_BASE_URL.*graph\.microsoft\.com/),
        },
      ]);
    }
    expect(!us.ok && us.errors.map((e) => e.path)).toEqual([
      'members[0]["user@odata.bind"]',
      'members[1]["user@odata.bind"]',
    ]);
  });

  it('takes "topic": null as no topic, in both forms and both chat types, and sends no topic', () => {
    // Act
    const graph = accepted({ ...fixture('003-example-1'), topic: null });
    const compact = accepted(group({ topic: null }));
    const oneOnOne = accepted({ chatType: 'oneOnOne', topic: null, members: ['a@x.com', 'b@x.com'] });

    // Assess
    for (const value of [graph, compact, oneOnOne]) {
      expect(value.topic).toBeUndefined();
      expect(Object.hasOwn(value.graphBody, 'topic')).toBe(false);
    }
    expect(payloadHash(graph)).toBe(payloadHash(accepted(fixture('003-example-1'))));
    const { topic: _topic, ...untitled } = group();
    expect(payloadHash(compact)).toBe(payloadHash(accepted(untitled)));
  });

  it("passes a Graph member's visibleHistoryStartDateTime (a date-time or null) to Graph and into the payload hash", () => {
    // Prepare
    const member = (at: unknown) => ({ ...GRAPH_MEMBER('a@x.com'), visibleHistoryStartDateTime: at });
    const body = (at: unknown) => graphGroup({ members: [member(at), GRAPH_MEMBER('b@x.com')] });

    // Act
    const dated = accepted(body('2019-04-18T23:51:43.255Z'));
    const sameInstant = accepted(body('2019-04-19T01:51:43.255+02:00'));
    const nulled = accepted(body(null));
    const plain = accepted(graphGroup({ members: [GRAPH_MEMBER('a@x.com'), GRAPH_MEMBER('b@x.com')] }));

    // Assess
    expect(dated.graphBody.members[0]!.visibleHistoryStartDateTime).toBe('2019-04-18T23:51:43.255Z');
    expect(nulled.graphBody.members[0]!.visibleHistoryStartDateTime).toBeNull();
    expect(payloadHash(sameInstant)).toBe(payloadHash(dated));
    expect(payloadHash(nulled)).toBe(payloadHash(plain));
    expect(payloadHash(dated)).not.toBe(payloadHash(plain));
  });

  it('refuses a visibleHistoryStartDateTime that is not a date-time with an offset', () => {
    // Act
    const errors = rejected(
      graphGroup({
        members: [{ ...GRAPH_MEMBER('a@x.com'), visibleHistoryStartDateTime: 'yesterday' }, GRAPH_MEMBER('b@x.com')],
      }),
    );

    // Assess
    expect(errors).toEqual([
      { path: 'members[0].visibleHistoryStartDateTime', message: expect.stringMatching(/ISO 8601.*"yesterday"/) },
    ]);
  });

  it('accepts exactly 200 members in a group chat', () => {
    expect(
      accepted({ chatType: 'group', members: Array.from({ length: 200 }, (_, i) => `u${i}@x.com`) }).members,
    ).toHaveLength(200);
  });

  it("refuses a federated member (another tenant than the app's) with a role other than owner, in both forms", () => {
    // Prepare
    const compact = group({ members: ['a@x.com', { user: 'b@fabrikam.com', tenantId: OTHER_TENANT, role: 'guest' }] });
    const graph = graphGroup({
      members: [GRAPH_MEMBER('a@x.com'), { ...GRAPH_MEMBER('b@fabrikam.com', 'guest'), tenantId: OTHER_TENANT }],
    });

    // Act
    const results = [compact, graph].map((body) => withOptions(body, { appTenantId: TENANT }));

    // Assess
    expect(results.map((r) => !r.ok && r.errors)).toEqual([
      [{ path: 'members[1].role', message: expect.stringMatching(/other tenant.*must have the role "owner"/) }],
      [{ path: 'members[1].roles[0]', message: expect.stringMatching(/other tenant.*must have the role "owner"/) }],
    ]);
  });

  it("accepts a guest whose tenantId is the app's own tenant (any case), and federated owners", () => {
    // Prepare
    const body = group({
      members: [
        { user: 'a@x.com', tenantId: TENANT.toUpperCase(), role: 'guest' },
        { user: 'b@fabrikam.com', tenantId: OTHER_TENANT },
        { user: 'c@fabrikam.com', tenantId: OTHER_TENANT, role: 'owner' },
      ],
    });

    // Act / Assess
    expect(withOptions(body, { appTenantId: TENANT }).ok).toBe(true);
  });

  it.each([
    ['a right-to-left override (U+202E)', 'ana\u202Emoc.osotnoc@x.com', /U\+202E/],
    ['a zero-width space (U+200B)', 'ana\u200B@contoso.com', /U\+200B/],
    ['a byte order mark (U+FEFF)', '\uFEFFana@contoso.com', /U\+FEFF/],
    ['a soft hyphen (U+00AD)', 'an\u00ADa@contoso.com', /U\+00AD/],
  ])('refuses a UPN holding %s, in both forms', (_name, user, code) => {
    // Act
    const compact = rejected(group({ members: [user, 'b@x.com'] }));
    const graph = rejected(graphGroup({ members: [GRAPH_MEMBER(user), GRAPH_MEMBER('b@x.com')] }));

    // Assess
    expect(compact).toEqual([{ path: 'members[0]', message: expect.stringMatching(code) }]);
    expect(compact[0]!.message).toMatch(/invisible/);
    expect(graph).toEqual([{ path: 'members[0]["user@odata.bind"]', message: expect.stringMatching(code) }]);
  });

  it.each([
    ['compact', group({ members: ['ana%40contoso.com', 'b@x.com'] }), 'members[0]'],
    [
      'compact, as a #',
      group({ members: ['ana_fabrikam.com%23EXT%23@contoso.onmicrosoft.com', 'b@x.com'] }),
      'members[0]',
    ],
    [
      'Graph users(…)',
      graphGroup({ members: [GRAPH_MEMBER('jürgen%2Bx@contoso.com'), GRAPH_MEMBER('b@x.com')] }),
      'members[0]["user@odata.bind"]',
    ],
    [
      'Graph users/…',
      graphGroup({
        members: [
          { ...GRAPH_MEMBER('x'), 'user@odata.bind': 'https://graph.microsoft.com/v1.0/users/ana%40contoso.com' },
          GRAPH_MEMBER('b@x.com'),
        ],
      }),
      'members[0]["user@odata.bind"]',
    ],
  ])('refuses a percent-escape in a user (%s): the service encodes what a URL needs', (_name, body, path) => {
    // Act
    const errors = rejected(body);

    // Assess
    expect(errors).toEqual([
      { path, message: expect.stringMatching(/percent-escape "%(40|23|2B)".*write the character itself/) },
    ]);
  });

  it('keeps the payload hash of bodies that use none of this (stored requests still replay)', () => {
    // Why: a change in what the hash covers would turn every replay of a stored request into a 422.
    expect(payloadHash(accepted(fixture('003-example-1')))).toBe(
      'a7e8beabb53bc73828333c76428784936ddf9a8ecfd725d92f0223db1a646eef',
    );
    expect(payloadHash(accepted(fixture('003-example-7')))).toBe(
      'a29ae69090de5ab03bc9d7db34dc2863302215de1262202c3f66e33f517c7635',
    );
    const compact = group({
      externalId: 'hr-4711',
      members: [
        'ana@contoso.com',
        { user: 'mgr@contoso.com', role: 'owner' },
        { user: 'x@fabrikam.com', role: 'guest' },
      ],
    });
    expect(payloadHash(accepted(compact))).toBe('ba538defa1a975907193a498bf6df4531242d61d80c9d24086b00e51d5dea4b0');
  });
});

describe('callbackUrl: one error per problem', () => {
  it.each([
    ['http to a remote host', 'http://insecure.example.com', {}, /https:\/\/.*"http"/],
    [
      'http to a remote host in the local run',
      'http://insecure.example.com',
      { allowLoopbackHttpCallback: true },
      /https:\/\/.*"http"/,
    ],
    ['http to localhost outside the local run', 'http://localhost:9000/hook', {}, /ALLOW_LOCALHOST_CALLBACKS/],
    ['ftp', 'ftp://hooks.contoso.com/x', { allowLoopbackHttpCallback: true }, /"ftp"/],
  ])('%s gets exactly one error', (_name, callbackUrl, options: ParseOptions, message) => {
    // Act
    const result = parseProvisioningRequest(group({ callbackUrl }), NOW, options);

    // Assess
    expect(!result.ok && result.errors).toEqual([{ path: 'callbackUrl', message: expect.stringMatching(message) }]);
  });
});
