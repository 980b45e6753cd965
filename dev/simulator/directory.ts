import { guidFromName } from './seeded-random';

/** The simulated Entra directory: the users chats can be made with, including the people of the docs' examples. */

export interface DirectoryUser {
  /** The object id (a GUID): what Graph puts in a chat member's `userId` and in one-on-one chat ids. */
  id: string;
  userPrincipalName: string;
  /**
   * The mail address, which Graph shows as a chat member's `email`. Often not the UPN (UPN
   * `ana@contoso.onmicrosoft.com`, mail `ana.silva@contoso.com`); null for a user without a mailbox.
   */
  mail: string | null;
  displayName: string;
  /** A Teams licence; without one Graph answers 403 when the user is added to a chat. */
  licensed: boolean;
  /** An in-tenant guest (B2B); must take the `guest` role. */
  guest: boolean;
  /** Epoch ms before which lookups fail with 404, as for a new hire not yet replicated to Teams. */
  availableAt?: number;
}

export interface DirectoryUserInput {
  id?: string;
  userPrincipalName: string;
  /** Default: the user's UPN (a new user), or the mail it had (an update); null: no mailbox. */
  mail?: string | null;
  displayName?: string;
  licensed?: boolean;
  guest?: boolean;
  /** ISO time, epoch ms, or null to make the user available now. */
  availableAt?: string | number | null;
}

export interface ResolvedUser {
  id: string;
  tenantId: string;
  userPrincipalName: string;
  mail: string | null;
  displayName: string;
  guest: boolean;
  federated: boolean;
}

export type UserLookup =
  | { kind: 'found'; user: ResolvedUser }
  | { kind: 'notFound'; reference: string }
  | { kind: 'unlicensed'; reference: string }
  | { kind: 'notFederated'; reference: string; tenantId: string };

/** Every user of every example in the create-chat docs (003 and 002). */
export const DOC_USERS: readonly DirectoryUser[] = [
  {
    id: '8b081ef6-4792-4def-b2c9-c363a1bf41d5',
    userPrincipalName: 'megan@contoso.com',
    mail: 'megan@contoso.com',
    displayName: 'Megan Bowen',
    licensed: true,
    guest: false,
  },
  {
    id: '82af01c5-f7cc-4a2e-a728-3a5df21afd9d',
    userPrincipalName: 'lee@contoso.com',
    mail: 'lee@contoso.com',
    displayName: 'Lee Gu',
    licensed: true,
    guest: false,
  },
  // jacob and alex carry the object ids of example 5's response, so that response's chat id comes out verbatim.
  {
    id: '82fe7758-5bb3-4f0d-a43f-e555fd399c6f',
    userPrincipalName: 'jacob@contoso.com',
    mail: 'jacob@contoso.com',
    displayName: 'Jacob Hancock',
    licensed: true,
    guest: false,
  },
  {
    id: '8c0a1a67-50ce-4114-bb6c-da9c5dbcf6ca',
    userPrincipalName: 'alex@contoso.com',
    mail: 'alex@contoso.com',
    displayName: 'Alex Wilber',
    licensed: true,
    guest: false,
  },
  {
    id: '3626a173-f2bc-4883-bcf7-01514c3bfb82',
    userPrincipalName: 'diego@contoso.com',
    mail: 'diego@contoso.com',
    displayName: 'Diego Siciliani',
    licensed: true,
    guest: false,
  },
  {
    id: '4b822dfc-2864-44e6-aa1e-7e0e8552168f',
    userPrincipalName: 'isaiah@contoso.com',
    mail: 'isaiah@contoso.com',
    displayName: 'Isaiah Langer',
    licensed: true,
    guest: false,
  },
  {
    id: '6d1e1501-7a3d-45b7-b71b-68d372e5ce14',
    userPrincipalName: 'nestor@contoso.com',
    mail: 'nestor@contoso.com',
    displayName: 'Nestor Wilke',
    licensed: true,
    guest: false,
  },
  {
    // Not hex, exactly as the docs spell it; ids are matched as text.
    id: '8ba98gf6-7fc2-4eb2-c7f2-aef9f21fd98g',
    userPrincipalName: 'pradeep_fabrikam.com#EXT#@contoso.onmicrosoft.com',
    // A guest's mail is the address at home, not the #EXT# UPN.
    mail: 'pradeep@fabrikam.com',
    displayName: 'Pradeep Gupta (Fabrikam)',
    licensed: true,
    guest: true,
  },
  {
    id: 'b7a3f2c1-0d4e-4f5a-9b6c-7d8e9f0a1b2c',
    userPrincipalName: 'unlicensed@contoso.com',
    mail: 'unlicensed@contoso.com',
    displayName: 'Unlicensed Ursula',
    licensed: false,
    guest: false,
  },
];

/**
 * People shaped as real tenants have them: the UPN on the initial `onmicrosoft.com` domain (or an employee
 * number), the mail on the vanity domain, so a chat member's `email` is not the UPN the caller named. One has
 * no mailbox (`mail` null, as for a user without an Exchange licence).
 */
export const MAIL_USERS: readonly DirectoryUser[] = [
  {
    id: 'a7f3c2e1-5b4d-4c6a-9e8f-1a2b3c4d5e6f',
    userPrincipalName: 'ana@contoso.onmicrosoft.com',
    mail: 'ana.silva@contoso.com',
    displayName: 'Ana Silva',
    licensed: true,
    guest: false,
  },
  {
    id: 'b8e4d3f2-6c5e-4d7b-8f90-2b3c4d5e6f70',
    userPrincipalName: 'bruno@contoso.onmicrosoft.com',
    mail: 'bruno.costa@contoso.com',
    displayName: 'Bruno Costa',
    licensed: true,
    guest: false,
  },
  {
    id: 'c9f5e4a3-7d6f-4e8c-90a1-3c4d5e6f7081',
    userPrincipalName: 'e10442@contoso.com',
    mail: 'carla.mendes@contoso.com',
    displayName: 'Carla Mendes',
    licensed: true,
    guest: false,
  },
  {
    id: 'd0a6f5b4-8e70-4f9d-a1b2-4d5e6f708192',
    userPrincipalName: 'dario@contoso.onmicrosoft.com',
    mail: null,
    displayName: 'Dario (no mailbox)',
    licensed: true,
    guest: false,
  },
];

/** The other organisation of example 7; any user named with its tenant id is accepted (we cannot see its directory). */
export const DOC_FEDERATED_TENANT_ID = '4dc1fe35-8ac6-4f0d-904a-7ebcd364bea1';

const PATTERN_PREFIX = { user: '5e000000', newhire: '5e000001', unlicensed: '5e000002', guest: '5e000003' } as const;
type PatternKind = keyof typeof PATTERN_PREFIX;

const PATTERN_UPN = /^(user|newhire|unlicensed)(\d{1,12})@contoso\.com$/i;
const PATTERN_GUEST_UPN = /^guest(\d{1,12})_fabrikam\.com#EXT#@contoso\.onmicrosoft\.com$/i;
const PATTERN_ID = /^5e00000([0-3])-0000-4000-8000-(\d{12})$/i;

function patternUpn(kind: PatternKind, n: number): string {
  return kind === 'guest' ? `guest${n}_fabrikam.com#EXT#@contoso.onmicrosoft.com` : `${kind}${n}@contoso.com`;
}

/** Generated people's mail is not their UPN, as in most real tenants; guests' mail is their address at home. */
function patternMail(kind: PatternKind, n: number): string {
  return kind === 'guest' ? `guest${n}@fabrikam.com` : `${kind}${n}.mail@contoso.com`;
}

function patternId(kind: PatternKind, n: number): string {
  return `${PATTERN_PREFIX[kind]}-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

/** Which generated user (if any) a UPN or id names. */
function patternOf(reference: string): { kind: PatternKind; n: number } | undefined {
  const upn = PATTERN_UPN.exec(reference);
  if (upn) return { kind: (upn[1] ?? 'user').toLowerCase() as PatternKind, n: Number(upn[2]) };
  const guest = PATTERN_GUEST_UPN.exec(reference);
  if (guest) return { kind: 'guest', n: Number(guest[1]) };
  const id = PATTERN_ID.exec(reference);
  if (id) {
    const kinds: PatternKind[] = ['user', 'newhire', 'unlicensed', 'guest'];
    const kind = kinds[Number(id[1])];
    return kind ? { kind, n: Number(id[2]) } : undefined;
  }
  return undefined;
}

export function parseAvailableAt(value: string | number | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  const ms = typeof value === 'number' ? value : Date.parse(value);
  if (Number.isNaN(ms)) throw new TypeError(`availableAt is not a time: ${String(value)}`);
  return ms;
}

export interface DirectoryOptions {
  homeTenantId: string;
  /** How long a generated `newhire<N>@contoso.com` stays invisible after the first lookup. */
  newHireReplicationMs: number;
}

export class Directory {
  private readonly byId = new Map<string, DirectoryUser>();
  private readonly byUpn = new Map<string, DirectoryUser>();
  private readonly federatedTenants = new Set<string>([DOC_FEDERATED_TENANT_ID]);

  constructor(private readonly options: DirectoryOptions) {
    this.reset();
  }

  get homeTenantId(): string {
    return this.options.homeTenantId;
  }

  set newHireReplicationMs(ms: number) {
    this.options.newHireReplicationMs = ms;
  }

  get newHireReplicationMs(): number {
    return this.options.newHireReplicationMs;
  }

  /** Back to the built-in users; generated and added users are forgotten. */
  reset(): void {
    this.byId.clear();
    this.byUpn.clear();
    this.federatedTenants.clear();
    this.federatedTenants.add(DOC_FEDERATED_TENANT_ID);
    for (const user of [...DOC_USERS, ...MAIL_USERS]) this.store({ ...user });
  }

  addFederatedTenant(tenantId: string): void {
    this.federatedTenants.add(tenantId.toLowerCase());
  }

  federatedTenantIds(): string[] {
    return [...this.federatedTenants];
  }

  /** Adds a user or updates the one with the same id or UPN. */
  upsert(input: DirectoryUserInput): DirectoryUser {
    if (typeof input.userPrincipalName !== 'string' || !input.userPrincipalName.includes('@')) {
      throw new TypeError('userPrincipalName (containing @) is required');
    }
    if (
      input.mail !== undefined &&
      input.mail !== null &&
      (typeof input.mail !== 'string' || !input.mail.includes('@'))
    ) {
      throw new TypeError('mail must be an address (containing @) or null');
    }
    const existing =
      (input.id ? this.byId.get(input.id.toLowerCase()) : undefined) ??
      this.byUpn.get(input.userPrincipalName.toLowerCase());
    const user: DirectoryUser = {
      id: input.id ?? existing?.id ?? guidFromName(`user:${input.userPrincipalName.toLowerCase()}`),
      userPrincipalName: input.userPrincipalName,
      mail: input.mail !== undefined ? input.mail : existing ? existing.mail : input.userPrincipalName,
      displayName:
        input.displayName ?? existing?.displayName ?? input.userPrincipalName.split('@')[0] ?? input.userPrincipalName,
      licensed: input.licensed ?? existing?.licensed ?? true,
      guest: input.guest ?? existing?.guest ?? false,
      availableAt: input.availableAt === undefined ? existing?.availableAt : parseAvailableAt(input.availableAt),
    };
    if (existing) {
      this.byId.delete(existing.id.toLowerCase());
      this.byUpn.delete(existing.userPrincipalName.toLowerCase());
    }
    this.store(user);
    return { ...user };
  }

  list(): DirectoryUser[] {
    return [...this.byId.values()].map((u) => ({ ...u }));
  }

  /** Finds a home user by id or UPN, materialising generated users on first sight. */
  find(reference: string, now: number): DirectoryUser | undefined {
    const key = reference.toLowerCase();
    const known = this.byId.get(key) ?? this.byUpn.get(key);
    if (known) return known;
    const pattern = patternOf(reference);
    if (!pattern) return undefined;
    const user: DirectoryUser = {
      id: patternId(pattern.kind, pattern.n),
      userPrincipalName: patternUpn(pattern.kind, pattern.n),
      mail: patternMail(pattern.kind, pattern.n),
      displayName: `${pattern.kind} ${pattern.n}`,
      licensed: pattern.kind !== 'unlicensed',
      guest: pattern.kind === 'guest',
      availableAt: pattern.kind === 'newhire' ? now + this.options.newHireReplicationMs : undefined,
    };
    this.store(user);
    return user;
  }

  /** Resolves a chat member reference as Teams does when a chat is created. */
  resolve(reference: string, tenantId: string | undefined, now: number): UserLookup {
    const home = this.options.homeTenantId.toLowerCase();
    if (tenantId !== undefined && tenantId.toLowerCase() !== home) {
      if (!this.federatedTenants.has(tenantId.toLowerCase())) return { kind: 'notFederated', reference, tenantId };
      const id = reference.includes('@') ? guidFromName(`federated:${tenantId}:${reference.toLowerCase()}`) : reference;
      return {
        kind: 'found',
        user: {
          id: id.toLowerCase(),
          tenantId: tenantId.toLowerCase(),
          userPrincipalName: reference.includes('@') ? reference : '',
          // What Teams shows for another organisation's user is not documented: the harsher case, no mail.
          mail: null,
          displayName: '',
          guest: false,
          federated: true,
        },
      };
    }
    const user = this.find(reference, now);
    if (!user || (user.availableAt !== undefined && now < user.availableAt)) return { kind: 'notFound', reference };
    if (!user.licensed) return { kind: 'unlicensed', reference };
    return {
      kind: 'found',
      user: {
        id: user.id,
        tenantId: this.options.homeTenantId,
        userPrincipalName: user.userPrincipalName,
        mail: user.mail,
        displayName: user.displayName,
        guest: user.guest,
        federated: false,
      },
    };
  }

  private store(user: DirectoryUser): void {
    this.byId.set(user.id.toLowerCase(), user);
    this.byUpn.set(user.userPrincipalName.toLowerCase(), user);
  }
}
