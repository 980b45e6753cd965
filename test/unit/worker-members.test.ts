import { sameMembers, WantedMember } from '../../shared/use-cases/worker';

/** How the recovery tells whether a listed chat's members are the request's (Graph lists userId and mail). */

const FED = '4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1';
const ana: WantedMember = { reference: 'ana@contoso.onmicrosoft.com', id: 'id-ana', federated: false };
const bob: WantedMember = { reference: 'id-bob', id: 'id-bob', federated: false };
const fedByUpn: WantedMember = { reference: 'kim@fabrikam.com', tenantId: FED, federated: true };
const fedById: WantedMember = { reference: 'id-kim', id: 'id-kim', tenantId: FED, federated: true };
const listed = (...members: { userId?: string; email?: string; tenantId?: string }[]) => ({ members });

describe('sameMembers', () => {
  it.each([
    [
      'object ids, case aside, mail ignored',
      [ana, bob],
      [{ userId: 'ID-ANA', email: 'ana.silva@contoso.com' }, { userId: 'id-bob' }],
      true,
    ],
    ['a member missing', [ana, bob], [{ userId: 'id-ana' }], false],
    ['another member instead of ours', [ana, bob], [{ userId: 'id-ana' }, { userId: 'id-eve' }], false],
    [
      'the mail equal to a UPN does not stand in for an object id',
      [ana, bob],
      [{ email: 'ana@contoso.onmicrosoft.com' }, { userId: 'id-bob' }],
      false,
    ],
    [
      'the same id twice does not count for two members',
      [ana, bob],
      [{ userId: 'id-ana' }, { userId: 'id-ana' }],
      false,
    ],
    [
      'another organisation by UPN: by mail',
      [ana, fedByUpn],
      [{ userId: 'id-ana' }, { userId: 'x', email: 'KIM@fabrikam.com', tenantId: FED }],
      true,
    ],
    [
      'another organisation by UPN: by tenant when Teams shows no mail',
      [ana, fedByUpn],
      [{ userId: 'id-ana' }, { userId: 'x', tenantId: FED }],
      true,
    ],
    [
      'another organisation by UPN: not a member of another tenant',
      [ana, fedByUpn],
      [{ userId: 'id-ana' }, { userId: 'x', tenantId: 'other' }],
      false,
    ],
    [
      'another organisation by id: by id',
      [ana, fedById],
      [{ userId: 'id-ana' }, { userId: 'id-kim', tenantId: FED }],
      true,
    ],
  ])('%s', (_name, wanted, members, expected) => {
    expect(sameMembers(listed(...members), wanted)).toBe(expected);
  });

  it('beyond 25 members (what Graph expands), every listed member must be ours', () => {
    const wanted = Array.from({ length: 30 }, (_, i): WantedMember => ({
      reference: `id-${i}`,
      id: `id-${i}`,
      federated: false,
    }));
    const first25 = wanted.slice(0, 25).map((w) => ({ userId: w.id }));
    expect(sameMembers(listed(...first25), wanted)).toBe(true);
    expect(sameMembers(listed(...first25.slice(0, 24), { userId: 'id-stranger' }), wanted)).toBe(false);
  });
});
