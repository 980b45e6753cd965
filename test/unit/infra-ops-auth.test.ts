/**
 * The Entra sign-in in front of the ops page (infra/app/ops-auth.bicep) against the function routes: every
 * route a machine calls must be excluded from App Service authentication (or function-key callers would get
 * a sign-in redirect), and the page's own routes must not be. There is no Bicep compiler on the build
 * machines, so the Bicep is read as text, like test/unit/infra.test.ts does.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const read = (file: string): string => readFileSync(join(root, file), 'utf8');

const auth = read('infra/app/ops-auth.bicep');
const main = read('infra/main.bicep');
const deployDoc = read('docs/deploy.md');
const routePrefix = (JSON.parse(read('host.json')) as { extensions: { http: { routePrefix: string } } }).extensions.http
  .routePrefix;

/** Every app.http registration of functions/*.ts: name, route, authLevel. */
function httpRoutes(): { name: string; route: string; authLevel: string }[] {
  const found: { name: string; route: string; authLevel: string }[] = [];
  for (const file of readdirSync(join(root, 'functions')).filter((f) => f.endsWith('.ts'))) {
    const src = read(`functions/${file}`);
    for (const m of src.matchAll(/app\.http\('(\w+)', \{([\s\S]*?)\n\}\);/g)) {
      const body = m[2] ?? '';
      found.push({
        name: m[1] ?? '',
        route: /route: '([^']*)'/.exec(body)?.[1] ?? m[1] ?? '',
        authLevel: /authLevel: '(\w+)'/.exec(body)?.[1] ?? 'function',
      });
    }
  }
  return found;
}

/** The excludedPaths list, with `${prefix}` resolved from host.json as the module does. */
function excludedPaths(): string[] {
  const list = /excludedPaths: \[([^\]]*)\]/.exec(auth)?.[1] ?? '';
  const prefix = routePrefix ? `/${routePrefix}` : '';
  return [...list.matchAll(/'([^']*)'/g)].map((m) => (m[1] ?? '').replace('${prefix}', prefix));
}

/** Easy Auth's matching: an exact path, or a prefix given as `/path/*`. */
function excluded(path: string, paths: string[]): boolean {
  return paths.some((p) => p === path || (p.endsWith('/*') && path.startsWith(p.slice(0, -1))));
}

/** A concrete path for a route template: each `{param}` becomes a sample segment. */
const samplePath = (route: string): string => `/${routePrefix}/${route.replace(/\{[^}]+\}/g, 'x1')}`;

describe('Entra sign-in in front of the ops page (authsettingsV2)', () => {
  const routes = httpRoutes();
  const paths = excludedPaths();

  it('finds the HTTP routes, the page among them', () => {
    expect(routes.map((r) => r.route)).toEqual(
      expect.arrayContaining(['requests', 'requests/{id}', 'ui', 'ui/{file}']),
    );
    expect(paths.length).toBeGreaterThan(3);
  });

  it('excludes every route a machine calls, so function keys and anonymous health keep working', () => {
    for (const r of routes.filter((x) => !x.route.startsWith('ui'))) {
      expect({ route: r.route, excluded: excluded(samplePath(r.route), paths) }).toEqual({
        route: r.route,
        excluded: true,
      });
    }
    expect(excluded('/admin/host/status', paths)).toBe(true);
  });

  it('puts the sign-in in front of the page and its files', () => {
    const page = routes.filter((r) => r.route.startsWith('ui'));
    expect(page.map((r) => r.authLevel)).toEqual(['anonymous', 'anonymous']);
    for (const r of page)
      expect({ route: r.route, excluded: excluded(samplePath(r.route), paths) }).toEqual({
        route: r.route,
        excluded: false,
      });
    expect(excluded(`/${routePrefix}/ui`, paths)).toBe(false);
    expect(excluded(`/${routePrefix}/ui/ops.js`, paths)).toBe(false);
  });

  it('requires authentication with Entra ID, redirects people to sign in, and keeps no tokens', () => {
    expect(auth).toContain("name: 'authsettingsV2'");
    expect(auth).toMatch(/requireAuthentication: true/);
    expect(auth).toMatch(/unauthenticatedClientAction: 'RedirectToLoginPage'/);
    expect(auth).toMatch(/azureActiveDirectory: \{\n\s+enabled: true/);
    expect(auth).toContain("openIdIssuer: '${environment().authentication.loginEndpoint}${tenantId}/v2.0'");
    expect(auth).toMatch(/tokenStore: \{\n\s+enabled: false/);
    expect(auth).toMatch(/requireHttps: true/);
    // Implicit flow: no client secret setting to keep or rotate.
    expect(auth).not.toMatch(/clientSecret/);
  });

  it('is deployed by main.bicep only when OPS_PAGE_CLIENT_ID is set, with the tenant and host.json route prefix', () => {
    expect(main).toMatch(/^param opsPageClientId string = ''$/m);
    expect(main).toMatch(/^module opsAuth 'app\/ops-auth\.bicep' = if \(!empty\(opsPageClientId\)\) \{/m);
    expect(main).toMatch(/siteName: api\.outputs\.name/);
    expect(main).toMatch(/tenantId: tenant\(\)\.tenantId/);
    expect(main).toContain("routePrefix: string(loadJsonContent('../host.json', '$.extensions.http.routePrefix'))");
    const parameters = JSON.parse(read('infra/main.parameters.json')) as {
      parameters: Record<string, { value: string }>;
    };
    expect(parameters.parameters.opsPageClientId).toEqual({ value: '${OPS_PAGE_CLIENT_ID}' });
  });

  it('is documented in docs/deploy.md with the same excluded paths', () => {
    expect(deployDoc).toContain('## The ops page');
    expect(deployDoc).toContain('OPS_PAGE_CLIENT_ID');
    expect(deployDoc).toContain('authsettingsV2');
    for (const path of paths)
      expect({ path, documented: deployDoc.includes(`\`${path}\``) }).toEqual({ path, documented: true });
  });
});
