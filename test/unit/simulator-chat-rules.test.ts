import { AppCatalog, checkCreateChat, CreateChatCheck } from '../../dev/simulator/chat-rules';
import { Directory, DOC_FEDERATED_TENANT_ID } from '../../dev/simulator/directory';

const HOME = '11111111-2222-4333-8444-555555555555';
const member = (ref: string, role = 'owner', extra: Record<string, unknown> = {}) => ({
  '@odata.type': '#microsoft.graph.aadUserConversationMember',
  roles: [role],
  'user@odata.bind': `https://graph.microsoft.com/v1.0/users('${ref}')`,
  ...extra,
});

function check(
  body: unknown,
  now = 0,
  directory = new Directory({ homeTenantId: HOME, newHireReplicationMs: 1000 }),
): CreateChatCheck {
  return checkCreateChat(body, directory, new AppCatalog(), now);
}

function violation(result: CreateChatCheck) {
  if (result.ok) throw new Error('expected a violation');
  return result.violation;
}

describe('checkCreateChat', () => {
  it('resolves UPNs and ids to object ids in the home tenant', () => {
    const result = check({
      chatType: 'oneOnOne',
      members: [member('jacob@contoso.com'), member('8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca')],
    });
    expect(result.ok && result.command.members.map((m) => [m.userId, m.tenantId])).toEqual([
      ['82fe7758-5bb3-4f0d-a43f-e555fd399c6f', HOME],
      ['8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca', HOME],
    ]);
  });

  it("refuses role 'member' with Graph's words", () => {
    expect(
      violation(
        check({ chatType: 'group', members: [member('alex@contoso.com', 'member'), member('jacob@contoso.com')] }),
      ),
    ).toEqual({
      status: 400,
      code: 'BadRequest',
      message: "The passed-in role 'member' is not supported.",
    });
  });

  it('refuses a topic on a one-on-one chat', () => {
    const v = violation(
      check({ chatType: 'oneOnOne', topic: 'x', members: [member('alex@contoso.com'), member('jacob@contoso.com')] }),
    );
    expect(v.message).toBe('Setting topic is not allowed for 1-on-1 chats');
  });

  it.each([
    [
      'meeting chats',
      { chatType: 'meeting', members: [member('alex@contoso.com'), member('jacob@contoso.com')] },
      /meeting/,
    ],
    ['unknown chat types', { chatType: 'channel', members: [] }, /not supported/],
    [
      'three members in a one-on-one',
      {
        chatType: 'oneOnOne',
        members: [member('alex@contoso.com'), member('jacob@contoso.com'), member('diego@contoso.com')],
      },
      /exactly 2/,
    ],
    ['a one-member group', { chatType: 'group', members: [member('alex@contoso.com')] }, /at least 2/],
    [
      'a colon in the topic',
      { chatType: 'group', topic: 'a:b', members: [member('alex@contoso.com'), member('jacob@contoso.com')] },
      /':'/,
    ],
    [
      'a 251-character topic',
      { chatType: 'group', topic: 'x'.repeat(251), members: [member('alex@contoso.com'), member('jacob@contoso.com')] },
      /250/,
    ],
    [
      'the wrong member type',
      {
        chatType: 'group',
        members: [
          { ...member('alex@contoso.com'), '@odata.type': '#microsoft.graph.conversationMember' },
          member('jacob@contoso.com'),
        ],
      },
      /aadUserConversationMember/,
    ],
    [
      'a bind to another host',
      {
        chatType: 'group',
        members: [
          { ...member('alex@contoso.com'), 'user@odata.bind': "https://localhost/v1.0/users('alex@contoso.com')" },
          member('jacob@contoso.com'),
        ],
      },
      /user@odata.bind/,
    ],
    [
      'an unknown property (service fields leaking to Graph)',
      { chatType: 'group', externalId: 'hr-1', members: [member('alex@contoso.com'), member('jacob@contoso.com')] },
      /'externalId' does not exist/,
    ],
    [
      'the same user twice (by UPN and by id)',
      { chatType: 'group', members: [member('alex@contoso.com'), member('8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca')] },
      /twice/,
    ],
    [
      'an in-tenant guest as owner',
      {
        chatType: 'group',
        members: [member('alex@contoso.com'), member('8ba98gf6-7fc2-4eb2-c7f2-aef9f21fd98g', 'owner')],
      },
      /guest/,
    ],
    [
      'two apps',
      {
        chatType: 'group',
        members: [member('alex@contoso.com'), member('jacob@contoso.com')],
        installedApps: [
          {
            'teamsApp@odata.bind':
              'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/8e55a7b1-6766-4f0a-8610-ecacfe3d569a',
          },
          {
            'teamsApp@odata.bind':
              'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/8e55a7b1-6766-4f0a-8610-ecacfe3d569a',
          },
        ],
      },
      /Only one app/,
    ],
  ])('refuses %s with 400', (_name, body, message) => {
    const v = violation(check(body));
    expect(v.status).toBe(400);
    expect(v.message).toMatch(message);
  });

  it('answers an app not in the catalog with 404 NotFound naming it, as Graph does', () => {
    const v = violation(
      check({
        chatType: 'group',
        members: [member('alex@contoso.com'), member('jacob@contoso.com')],
        installedApps: [{ 'teamsApp@odata.bind': 'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/nope' }],
      }),
    );
    expect([v.status, v.code]).toEqual([404, 'NotFound']);
    expect(v.message).toMatch(/non existent App definition 'nope'/);
  });

  it('creates a group with at most 200 members: Teams adds at most 200 at a time, creation included', () => {
    const members = (n: number) => Array.from({ length: n }, (_, i) => member(`user${i + 1}@contoso.com`));
    expect(check({ chatType: 'group', members: members(200) }).ok).toBe(true);
    const v = violation(check({ chatType: 'group', members: members(201) }));
    expect([v.status, v.message]).toEqual([400, expect.stringMatching(/more than 200 members.*at a time/)]);
  });

  it("resolves a guest's #EXT# UPN and takes the users/<id> bind form", () => {
    const checked = check({
      chatType: 'group',
      members: [
        {
          ...member('alex@contoso.com'),
          'user@odata.bind': 'https://graph.microsoft.com/v1.0/users/8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca',
        },
        member('jacob@contoso.com'),
        { ...member('guest7_fabrikam.com#EXT#@contoso.onmicrosoft.com'), roles: ['guest'] },
      ],
    });
    expect(checked.ok && checked.command.members.map((m) => m.roles[0])).toEqual(['owner', 'owner', 'guest']);
  });

  it('answers 404 naming every unknown UPN, before any licence problem', () => {
    const v = violation(
      check({
        chatType: 'group',
        members: [member('nobody@contoso.com'), member('unlicensed@contoso.com'), member('ghost@contoso.com')],
      }),
    );
    expect(v).toEqual({
      status: 404,
      code: 'NotFound',
      message: 'Failed to find users with user principal name nobody@contoso.com, ghost@contoso.com.',
    });
  });

  it('answers 403 for a member without a licence', () => {
    const v = violation(
      check({ chatType: 'group', members: [member('alex@contoso.com'), member('unlicensed7@contoso.com')] }),
    );
    expect(v).toEqual({
      status: 403,
      code: 'Forbidden',
      message: 'Failed to get license information for the user. Ensure user has a valid Office365 license.',
    });
  });

  it('accepts any user of a federated tenant, and refuses other tenants', () => {
    const federated = check({
      chatType: 'oneOnOne',
      members: [
        member('alex@contoso.com'),
        member('99999999-0000-4000-8000-000000000001', 'owner', { tenantId: DOC_FEDERATED_TENANT_ID }),
      ],
    });
    expect(federated.ok && federated.command.members[1]).toMatchObject({ tenantId: DOC_FEDERATED_TENANT_ID });
    const stranger = violation(
      check({
        chatType: 'oneOnOne',
        members: [
          member('alex@contoso.com'),
          member('x', 'owner', { tenantId: 'aaaaaaaa-0000-4000-8000-000000000000' }),
        ],
      }),
    );
    expect(stranger.status).toBe(403);
  });

  it('hides a new hire until replication, then finds them', () => {
    const directory = new Directory({ homeTenantId: HOME, newHireReplicationMs: 1000 });
    const body = { chatType: 'oneOnOne', members: [member('alex@contoso.com'), member('newhire5@contoso.com')] };
    expect(violation(check(body, 0, directory)).status).toBe(404);
    expect(violation(check(body, 999, directory)).status).toBe(404);
    const later = check(body, 1000, directory);
    expect(later.ok && later.command.members[1]?.userId).toBe('5e000001-0000-4000-8000-000000000005');
  });

  it('keeps the app and its resource-specific permissions', () => {
    const result = check({
      chatType: 'group',
      members: [member('alex@contoso.com'), member('jacob@contoso.com')],
      installedApps: [
        {
          'teamsApp@odata.bind':
            'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/05f59cec-a742-4a50-a62e-202a57e478a4',
          consentedPermissionSet: {
            resourceSpecificPermissions: [{ permissionValue: 'ChatMessage.Read.Chat', permissionType: 'application' }],
          },
        },
      ],
    });
    expect(result.ok && result.command.app).toEqual({
      teamsAppId: '05f59cec-a742-4a50-a62e-202a57e478a4',
      resourceSpecificPermissions: [{ permissionValue: 'ChatMessage.Read.Chat', permissionType: 'application' }],
    });
  });
});

describe('Directory', () => {
  it('generates user<N>, unlicensed<N> and guest<N> users that can be found again by id', () => {
    const directory = new Directory({ homeTenantId: HOME, newHireReplicationMs: 0 });
    const user = directory.resolve('user42@contoso.com', undefined, 0);
    expect(user).toMatchObject({ kind: 'found', user: { id: '5e000000-0000-4000-8000-000000000042' } });
    expect(directory.resolve('5e000000-0000-4000-8000-000000000042', undefined, 0)).toMatchObject({
      kind: 'found',
      user: { userPrincipalName: 'user42@contoso.com' },
    });
    expect(directory.resolve('unlicensed3@contoso.com', undefined, 0).kind).toBe('unlicensed');
    expect(directory.resolve('guest2_fabrikam.com#EXT#@contoso.onmicrosoft.com', undefined, 0)).toMatchObject({
      user: { guest: true },
    });
    expect(directory.resolve('someone@contoso.com', undefined, 0).kind).toBe('notFound');
  });

  it('lets tests add users and move availableAt', () => {
    const directory = new Directory({ homeTenantId: HOME, newHireReplicationMs: 0 });
    directory.upsert({ userPrincipalName: 'ana@contoso.com', availableAt: '2030-01-01T00:00:00Z' });
    expect(directory.resolve('ana@contoso.com', undefined, Date.parse('2029-12-31T00:00:00Z')).kind).toBe('notFound');
    directory.upsert({ userPrincipalName: 'ana@contoso.com', availableAt: null });
    expect(directory.resolve('ANA@contoso.com', undefined, 0).kind).toBe('found');
    directory.upsert({ userPrincipalName: 'ana@contoso.com', licensed: false });
    expect(directory.resolve('ana@contoso.com', undefined, 0).kind).toBe('unlicensed');
    directory.reset();
    expect(directory.resolve('ana@contoso.com', undefined, 0).kind).toBe('notFound');
  });
});
