import { Directory } from '../../dev/simulator/directory';

/** The simulated directory's users: object id, UPN and mail are three different things, as in Entra. */

const HOME = '11111111-2222-4333-8444-555555555555';
const directory = () => new Directory({ homeTenantId: HOME, newHireReplicationMs: 30_000 });

describe('simulated directory: mail', () => {
  it('built-in and generated users have mail that is not their UPN', () => {
    const d = directory();
    expect(d.find('ana@contoso.onmicrosoft.com', 0)).toMatchObject({
      id: 'a7f3c2e1-5b4d-4c6a-9e8f-1a2b3c4d5e6f',
      mail: 'ana.silva@contoso.com',
    });
    expect(d.find('dario@contoso.onmicrosoft.com', 0)?.mail).toBeNull();
    expect(d.find('user12@contoso.com', 0)).toMatchObject({
      id: '5e000000-0000-4000-8000-000000000012',
      mail: 'user12.mail@contoso.com',
    });
    expect(d.find('5e000003-0000-4000-8000-000000000002', 0)?.mail).toBe('guest2@fabrikam.com');
    expect(d.resolve('user12@contoso.com', undefined, 0)).toMatchObject({
      kind: 'found',
      user: { id: '5e000000-0000-4000-8000-000000000012', mail: 'user12.mail@contoso.com' },
    });
  });

  it('an added user gets its UPN as mail unless told; an update keeps the mail; null is no mailbox', () => {
    const d = directory();
    expect(d.upsert({ userPrincipalName: 'zoe@contoso.com' }).mail).toBe('zoe@contoso.com');
    expect(d.upsert({ userPrincipalName: 'zoe@contoso.com', mail: 'zoe.ramos@contoso.com' }).mail).toBe(
      'zoe.ramos@contoso.com',
    );
    expect(d.upsert({ userPrincipalName: 'zoe@contoso.com', displayName: 'Zoe' }).mail).toBe('zoe.ramos@contoso.com');
    expect(d.upsert({ userPrincipalName: 'zoe@contoso.com', mail: null }).mail).toBeNull();
    expect(() => d.upsert({ userPrincipalName: 'x@contoso.com', mail: 'not an address' })).toThrow(/mail/);
  });

  it("another organisation's user shows no mail", () => {
    const d = directory();
    const found = d.resolve('kim@fabrikam.com', '4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1', 0);
    expect(found).toMatchObject({ kind: 'found', user: { federated: true, mail: null } });
  });
});
