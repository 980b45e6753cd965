import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathSegment } from '../../shared/graph/graph-client';
import { bindForUser, userFromBind } from '../../shared/core/request/binds';
import { userRefProblem } from '../../shared/core/request/fields';
import { payloadHash } from '../../shared/core/request/hash';
import { parseProvisioningRequest } from '../../shared/core/request/parse';

const NOW = new Date('2025-01-15T10:00:00.000Z');
const BIND_SHAPE = /^https:\/\/graph\.microsoft\.com\/v1\.0\/users\('(?:[^']|'')*'\)$/;
const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'graph-examples', `${name}.json`), 'utf8'));

/** Text a caller could send as a user: heavy on quotes, parentheses and URL-ish characters. */
const userText = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        "'",
        "''",
        ')',
        '(',
        "')",
        "('",
        '%27',
        '%',
        '@',
        '.',
        'é',
        'ß',
        '漢',
        '-',
        '_',
        '$',
        '!',
        '~',
        '#',
        '#EXT#',
        '\u202E',
        '\u200B',
      ),
      fc.string({ unit: 'grapheme', maxLength: 6 }),
    ),
    { minLength: 1, maxLength: 8 },
  )
  .map((parts) => parts.join(''));
const validUser = userText.filter((u) => userRefProblem(u) === undefined);

/** Bodies near the valid ones, so the checks deep inside run, not only the "not an object" one. */
const nearlyValidBody = fc
  .tuple(
    fc.constantFrom(fixture('003-example-4'), fixture('003-example-6'), fixture('002-example-3'), {
      chatType: 'group',
      topic: 'T',
      members: ['a@x.com', { user: 'b@x.com', role: 'guest' }],
      apps: [{ teamsAppId: 'x' }],
    }),
    fc.array(
      fc.tuple(
        fc.array(
          fc.oneof(
            fc.nat(3),
            fc.constantFrom(
              'members',
              'roles',
              'user',
              'installedApps',
              'apps',
              'topic',
              'chatType',
              'consentedPermissionSet',
              'resourceSpecificPermissions',
              'permissionType',
              'user@odata.bind',
              '@odata.type',
              'notBefore',
              'rscPermissions',
            ),
          ),
          { maxLength: 5 },
        ),
        fc.jsonValue({ maxDepth: 3 }),
      ),
      { maxLength: 4 },
    ),
  )
  .map(([base, edits]) => {
    const body = structuredClone(base) as Record<string, unknown>;
    for (const [path, value] of edits) {
      let node: unknown = body;
      for (const key of path.slice(0, -1)) {
        const next = (node as Record<string | number, unknown>)?.[key];
        if (typeof next !== 'object' || next === null) break;
        node = next;
      }
      const last = path.at(-1);
      if (last !== undefined && typeof node === 'object' && node !== null)
        (node as Record<string | number, unknown>)[last] = value;
    }
    return body;
  });

describe('parseProvisioningRequest on arbitrary input', () => {
  it('never throws, and every error says where and what', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), nearlyValidBody, fc.anything()), (body) => {
        // Act
        const result = parseProvisioningRequest(body, NOW);

        // Assess
        if (!result.ok) {
          expect(result.errors.length).toBeGreaterThan(0);
          for (const error of result.errors) {
            expect(typeof error.path).toBe('string');
            expect(error.message.trim().length).toBeGreaterThan(0);
          }
        } else {
          expect(result.value.members.length).toBeGreaterThanOrEqual(2);
          expect(payloadHash(result.value)).toMatch(/^[0-9a-f]{64}$/);
        }
      }),
      { numRuns: 4000 },
    );
  });

  it('accepts a Graph body only when it would be accepted again from its own graphBody', () => {
    fc.assert(
      fc.property(nearlyValidBody, (body) => {
        // Act
        const first = parseProvisioningRequest(body, NOW);
        fc.pre(first.ok);
        const again = parseProvisioningRequest(first.ok ? first.value.graphBody : undefined, NOW);

        // Assess: the canonical body is itself valid and means the same
        expect(again.ok).toBe(true);
        if (first.ok && again.ok) expect(again.value.members).toEqual(first.value.members);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('OData quoting of users', () => {
  it('round-trips every valid user through its bind', () => {
    fc.assert(
      fc.property(validUser, (user) => {
        // Act
        const bind = bindForUser(user);

        // Assess
        expect(bind).toMatch(BIND_SHAPE);
        expect(userFromBind(bind)).toBe(user);
      }),
      { numRuns: 3000 },
    );
  });

  it('gives every compact user exactly its own bind, whatever quotes it holds', () => {
    fc.assert(
      fc.property(validUser, validUser, (a, b) => {
        fc.pre(a.toLowerCase() !== b.toLowerCase());

        // Act
        const result = parseProvisioningRequest(
          { chatType: 'oneOnOne', members: [a, { user: b, role: 'guest' }] },
          NOW,
        );

        // Assess
        expect(result.ok).toBe(true);
        if (!result.ok) return;
        const binds = result.value.graphBody.members.map((m) => m['user@odata.bind']);
        for (const bind of binds) expect(bind).toMatch(BIND_SHAPE);
        expect(binds.map(userFromBind)).toEqual([a, b]);
        expect(result.value.members).toEqual([
          { user: a, role: 'owner' },
          { user: b, role: 'guest' },
        ]);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads a bind only when its quoting is well formed, and then writes it back the same', () => {
    fc.assert(
      fc.property(userText, fc.constantFrom('v1.0', 'beta'), (inner, version) => {
        // Prepare: the raw text between the quotes, not escaped
        const bind = `https://graph.microsoft.com/${version}/users('${inner}')`;

        // Act
        const user = userFromBind(bind);

        // Assess: a lone ' inside means the literal is malformed
        const wellFormed = /^(?:[^']|'')*$/.test(inner);
        expect(user !== undefined).toBe(wellFormed);
        if (user !== undefined) expect(bindForUser(user)).toBe(bind.replace('/beta/', '/v1.0/'));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('users in URLs and the characters refused', () => {
  it('puts every valid user into one URL path segment that reads back as exactly that user', () => {
    fc.assert(
      fc.property(validUser, (user) => {
        // Act
        const segment = pathSegment(user);
        const url = new URL(`https://graph.example/v1.0/users/${segment}/chats?$top=1`);

        // Assess: no fragment, no extra segment, the same text back (so Graph gets exactly the user)
        expect(segment).toBeDefined();
        expect(url.hash).toBe('');
        const parts = url.pathname.split('/');
        expect(parts).toHaveLength(5);
        expect(decodeURIComponent(parts[3]!)).toBe(user);
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses every user holding an invisible formatting character (Cf) or a percent-escape', () => {
    fc.assert(
      fc.property(userText, (user) => {
        // Act
        const problem = userRefProblem(user);

        // Assess
        if (/\p{Cf}/u.test(user) || /%[0-9A-Fa-f]{2}/.test(user)) expect(problem).toBeDefined();
        if (problem !== undefined) expect(problem).not.toMatch(/\p{Cf}/u);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('payloadHash', () => {
  it('does not depend on member order or on the form', () => {
    const email = fc.emailAddress().filter((u) => userRefProblem(u) === undefined);
    const users = fc.uniqueArray(email, { minLength: 2, maxLength: 8, selector: (u) => u.toLowerCase() });
    fc.assert(
      fc.property(users, fc.boolean(), (list, reverse) => {
        // Prepare
        const compact = { chatType: 'group', members: list };
        const graph = {
          chatType: 'group',
          members: (reverse ? [...list].reverse() : list).map((u) => ({
            '@odata.type': '#microsoft.graph.aadUserConversationMember',
            roles: ['owner'],
            'user@odata.bind': bindForUser(u),
          })),
        };

        // Act
        const a = parseProvisioningRequest(compact, NOW);
        const b = parseProvisioningRequest(graph, NOW);

        // Assess
        expect(a.ok && b.ok).toBe(true);
        if (a.ok && b.ok) expect(payloadHash(a.value)).toBe(payloadHash(b.value));
      }),
      { numRuns: 300 },
    );
  });
});
