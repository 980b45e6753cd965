/**
 * Every body the service sends to POST /chats, checked against Graph's own v1.0 metadata (the extract in
 * test/fixtures/graph-metadata): property names, @odata.type, binds to navigation properties, enum
 * values, and the nested installedApps / consentedPermissionSet. The bodies are the service's own
 * (parseProvisioningRequest → graphBody, sent as is) for every Graph documentation example and for the
 * compact forms.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseProvisioningRequest } from '../../shared/core/request/parse';
import { conformanceProblems, MetadataSchema, parseMetadata, resolvedType } from '../support/graph-metadata';

const FIXTURES = join(__dirname, '..', 'fixtures');
const metadata = (version: 'v1.0' | 'beta'): MetadataSchema =>
  parseMetadata(readFileSync(join(FIXTURES, 'graph-metadata', `${version}.xml`), 'utf8'));
const v1 = metadata('v1.0');
const beta = metadata('beta');

const EXAMPLES = readdirSync(join(FIXTURES, 'graph-examples')).filter((f) => f.endsWith('.json'));
const example = (name: string): unknown => JSON.parse(readFileSync(join(FIXTURES, 'graph-examples', name), 'utf8'));

const APP = '05F59CEC-A742-4A50-A62E-202A57E478A4';
const FEDERATED_TENANT = '4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1';

const COMPACT_FORMS: [string, unknown][] = [
  ['one-on-one by UPN', { chatType: 'oneOnOne', members: ['ana@contoso.com', 'ben@contoso.com'] }],
  [
    'group by object id, with a topic',
    {
      chatType: 'group',
      topic: 'Welcome',
      members: ['8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca', '82fe7758-5bb3-4f0d-a43f-e555fd399c6f', 'ana@contoso.com'],
    },
  ],
  [
    'roles and a federated member',
    {
      chatType: 'group',
      topic: 'Mixed',
      members: [
        { user: 'ana@contoso.com', role: 'owner' },
        { user: 'guest@contoso.com', role: 'guest' },
        { user: '3626a173-f2bc-4883-bcf7-01514c3bfb82', tenantId: FEDERATED_TENANT },
      ],
    },
  ],
  [
    'an app with resource-specific permissions, both forms',
    {
      chatType: 'group',
      topic: 'With app',
      members: ['ana@contoso.com', 'ben@contoso.com', 'cara@contoso.com'],
      apps: [
        {
          teamsAppId: APP,
          rscPermissions: [
            'ChatMessage.Read.Chat',
            { permissionValue: 'ChatMember.Read.Chat', permissionType: 'delegated' },
          ],
        },
      ],
    },
  ],
  [
    'an app without permissions',
    { chatType: 'group', members: ['ana@contoso.com', 'ben@contoso.com'], apps: [{ teamsAppId: APP }] },
  ],
];

/** What the worker sends for a request body: the canonical Graph body intake made of it. */
function sentBody(body: unknown): Record<string, unknown> {
  const parsed = parseProvisioningRequest(body, new Date());
  if (!parsed.ok) throw new Error(`intake refused the body: ${JSON.stringify(parsed.errors)}`);
  return parsed.value.graphBody as Record<string, unknown>;
}

describe('the metadata extract', () => {
  it('says what the service relies on: chat operations and createChat exist in beta only', () => {
    expect(resolvedType(v1, 'chat').navigationProperties.has('operations')).toBe(false);
    expect(v1.enums.get('teamsAsyncOperationType')).not.toContain('createChat');
    expect(resolvedType(beta, 'chat').navigationProperties.get('operations')).toBe(
      'Collection(graph.teamsAsyncOperation)',
    );
    expect(beta.enums.get('teamsAsyncOperationType')).toContain('createChat');
    // createChat comes after the unknownFutureValue sentinel: an evolvable member, hidden without the Prefer header.
    const types = beta.enums.get('teamsAsyncOperationType')!;
    expect(types.indexOf('createChat')).toBeGreaterThan(types.indexOf('unknownFutureValue'));
    expect(v1.enums.get('chatType')).toEqual(['oneOnOne', 'group', 'meeting', 'unknownFutureValue']);
  });

  it('finds what does not fit: the checker is not a rubber stamp', () => {
    const bad = {
      chatType: 'channel',
      topics: 'typo',
      members: [
        { '@odata.type': '#microsoft.graph.conversationMember', roles: ['owner'] },
        { '@odata.type': '#microsoft.graph.chat', roles: ['owner'] },
        { '@odata.type': '#microsoft.graph.aadUserConversationMember', roles: 'owner', 'users@odata.bind': 'x' },
      ],
      installedApps: [
        {
          'teamsApp@odata.bind': 'https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/x',
          consentedPermissionSet: { resourceSpecificPermissions: [{ permissionValue: 'x', permissionType: 'app' }] },
        },
      ],
    };
    const problems = conformanceProblems(v1, bad, 'chat').join('\n');
    expect(problems).toMatch(/chatType: "channel" is not a member of chatType/);
    expect(problems).toMatch(/'topics' is not a property of chat/);
    expect(problems).toMatch(/members\[0\]: conversationMember is abstract/);
    expect(problems).toMatch(/members\[1\]: @odata.type #microsoft.graph.chat does not derive from conversationMember/);
    expect(problems).toMatch(/members\[2\].roles: expected an array/);
    expect(problems).toMatch(/aadUserConversationMember has no navigation property 'users'/);
    expect(problems).toMatch(/permissionType: "app" is not a member of teamsAppResourceSpecificPermissionType/);
  });
});

describe('every body the service sends conforms to Graph v1.0 metadata', () => {
  it('covers every documentation example', () => {
    expect(EXAMPLES.length).toBeGreaterThanOrEqual(10);
  });

  it.each(EXAMPLES)('the Graph docs example %s', (name) => {
    const body = sentBody(example(name));
    expect(conformanceProblems(v1, body, 'chat')).toEqual([]);
    for (const member of body.members as Record<string, unknown>[]) {
      expect(member['@odata.type']).toBe('#microsoft.graph.aadUserConversationMember');
    }
  });

  it.each(COMPACT_FORMS)('the compact form: %s', (_name, compact) => {
    const body = sentBody(compact);
    expect(conformanceProblems(v1, body, 'chat')).toEqual([]);
    expect((body.members as unknown[]).length).toBe((compact as { members: unknown[] }).members.length);
  });

  it('sends installedApps with the consented permission set nested as the metadata has it', () => {
    const body = sentBody(COMPACT_FORMS[3]![1]);
    const installation = (body.installedApps as Record<string, unknown>[])[0]!;
    expect(Object.keys(installation).sort()).toEqual(['consentedPermissionSet', 'teamsApp@odata.bind']);
    expect(conformanceProblems(v1, installation, 'teamsAppInstallation')).toEqual([]);
    const permissions = (installation.consentedPermissionSet as { resourceSpecificPermissions: unknown[] })
      .resourceSpecificPermissions;
    expect(permissions).toEqual([
      { permissionValue: 'ChatMessage.Read.Chat', permissionType: 'application' },
      { permissionValue: 'ChatMember.Read.Chat', permissionType: 'delegated' },
    ]);
  });
});
