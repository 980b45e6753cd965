/**
 * The deployment package, as `azd deploy` uploads it (azure.yaml: `dist: .deploy/package`, no remote
 * build): built into a temporary folder by the same code as `npm run package`, production dependencies
 * installed with `npm ci --omit=dev` (from the npm cache when it has them), then run on the local host
 * with that folder as the app root and nothing else: the function files, @azure/functions and every
 * other dependency come from the package. Azurite and the Graph simulator are real.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { type Azurite, startAzurite } from '../../dev/azurite';
import { type LocalHost, startLocalHost } from '../../dev/host';
import { readMainPattern, resolveEntryPoints } from '../../dev/host/entry-points';
import { type GraphSimulator, startGraphSimulator } from '../../dev/simulator';
import { simulatorSettings, writeTrustBundle } from '../../dev/simulator/settings';
import { buildPackage, funcIgnore, listFiles, ROOT, sourceFiles } from '../../scripts/package';
import { HOST_REQUEST_BODY_LIMIT_BYTES } from '../../shared/http/json-body';

const FUNCTION_KEY = 'package-test-key';

describe('the deployment package (npm run package)', () => {
  let work: string;
  let pkg: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'chat-package-'));
    pkg = buildPackage({ outDir: join(work, 'package'), npmArgs: ['--prefer-offline'], log: () => undefined });
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('holds the compiled service, host.json, the manifests and production dependencies, nothing else', () => {
    expect(readdirSync(pkg).sort()).toEqual([
      '.funcignore',
      'dist',
      'host.json',
      'node_modules',
      'package-lock.json',
      'package.json',
    ]);
    expect(readdirSync(join(pkg, 'dist')).sort()).toEqual(['functions', 'shared']);
    const files = listFiles(pkg, new Set(['node_modules']));
    // Compiled JavaScript and source maps only: no TypeScript source, test, tool or local setting.
    // Besides them, only the ops page's static files (shared/ui), copied as they are.
    expect(files.filter((f) => f.startsWith('dist/') && !/\.js(\.map)?$/.test(f))).toEqual([
      'dist/shared/ui/ops.css',
      'dist/shared/ui/ops.html',
    ]);
    expect(files.filter((f) => /(^|\/)(test|dev|bench|cli|scripts)\//.test(f))).toEqual([]);
    expect(files.filter((f) => /local\.settings/.test(f))).toEqual([]);
    // The same host.json as the repository (routes, queues, timeouts).
    expect(readFileSync(join(pkg, 'host.json'), 'utf8')).toBe(readFileSync(join(ROOT, 'host.json'), 'utf8'));
  });

  it('every file in it is admitted by its .funcignore, which is the repository one', () => {
    const rules = funcIgnore(pkg);
    expect(rules.text).toBe(readFileSync(join(ROOT, '.funcignore'), 'utf8'));
    const everything = listFiles(pkg);
    expect(everything.length).toBeGreaterThan(100);
    expect(everything.filter((f) => f !== '.funcignore' && rules.ignores(f))).toEqual([]);
    // No native addon: a package built on any machine runs on Flex's Linux workers.
    expect(everything.filter((f) => f.endsWith('.node'))).toEqual([]);
  });

  it('from the repository, .funcignore admits only host.json and the manifests (the rest is built)', () => {
    expect(sourceFiles()).toEqual(['host.json', 'package-lock.json', 'package.json']);
    const rules = funcIgnore();
    for (const excluded of ['functions/intake.ts', 'shared/platform/config.ts', 'tsconfig.json', 'dist/dev/start.js']) {
      expect([excluded, rules.ignores(excluded)]).toEqual([excluded, true]);
    }
    for (const admitted of [
      'dist/functions/intake.js',
      'dist/shared/platform/config.js',
      'node_modules/zod/package.json',
    ]) {
      expect([admitted, rules.ignores(admitted)]).toEqual([admitted, false]);
    }
  });

  it('package.json main finds the function files in the package; no scripts, no development tools', () => {
    const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as Record<string, unknown>;
    const repo = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest.scripts).toBeUndefined();
    expect(manifest.bin).toBeUndefined();
    expect(manifest.main).toBe(repo.main);
    expect(manifest.engines).toEqual(repo.engines);
    const entries = resolveEntryPoints(pkg, readMainPattern(pkg) as string).map((f) => f.slice(pkg.length + 1));
    expect(entries).toEqual([
      'dist/functions/intake.js',
      'dist/functions/ops-page.js',
      'dist/functions/poison.js',
      'dist/functions/poller.js',
      'dist/functions/status.js',
      'dist/functions/worker.js',
    ]);
    for (const dependency of Object.keys(repo.dependencies as Record<string, string>)) {
      expect([dependency, existsSync(join(pkg, 'node_modules', dependency, 'package.json'))]).toEqual([
        dependency,
        true,
      ]);
    }
    for (const tool of ['typescript', 'jest', 'azurite', 'eslint', 'prettier', 'ts-jest']) {
      expect([tool, existsSync(join(pkg, 'node_modules', tool))]).toEqual([tool, false]);
    }
  });

  describe('run from the package folder alone', () => {
    let azurite: Azurite;
    let sim: GraphSimulator;
    let host: LocalHost;
    const lines: Record<string, unknown>[] = [];
    const saved = new Map<string, string | undefined>();

    beforeAll(async () => {
      azurite = await startAzurite({ silent: true });
      sim = await startGraphSimulator({ quiet: true });
      const caPath = writeTrustBundle(join(work, 'ca.pem'), sim, undefined);
      const env: Record<string, string> = {
        AzureWebJobsStorage: azurite.connectionString,
        ...simulatorSettings(sim, caPath),
        POLL_SCHEDULE: '*/1 * * * * *',
        FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: String(HOST_REQUEST_BODY_LIMIT_BYTES),
      };
      // As test/support/stack.ts does: these win over the machine's own (e.g. its NODE_EXTRA_CA_CERTS).
      for (const key of Object.keys(env)) saved.set(key, process.env[key]);
      Object.assign(process.env, env);
      host = await startLocalHost({
        appRoot: pkg,
        // No entryPoints: the host reads package.json "main" in the package, as the Functions worker does.
        port: 0,
        env,
        functionKeys: [FUNCTION_KEY],
        logger: (line) => lines.push(line as Record<string, unknown>),
      });
    });

    afterAll(async () => {
      await host?.stop();
      await sim?.stop();
      await azurite?.stop();
      for (const [key, value] of saved) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    });

    it('loads every function from the package, none from the repository', () => {
      expect(host.functions.map((fn) => fn.name).sort()).toEqual(
        expect.arrayContaining(['intake', 'intakeBatch', 'getRequest', 'health', 'listRequests', 'retryRequest']),
      );
      for (const fn of host.functions) {
        expect([fn.name, fn.entryPoint?.startsWith(`${pkg}${sep}dist${sep}functions${sep}`)]).toEqual([fn.name, true]);
      }
    });

    it('serves the ops page and its static files from the package', async () => {
      for (const path of ['/api/ui', '/api/ui/ops.js', '/api/ui/ops.css']) {
        const answer = await fetch(`${host.url}${path}`);
        expect([path, answer.status]).toEqual([path, 200]);
        expect((await answer.text()).length).toBeGreaterThan(100);
      }
    });

    it('takes a request and brings it to succeeded', async () => {
      const accepted = await fetch(`${host.url}/api/requests`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-functions-key': FUNCTION_KEY },
        body: JSON.stringify({
          chatType: 'group',
          topic: 'Package check',
          externalId: 'package-1',
          members: ['user1@contoso.com', 'user2@contoso.com', 'user3@contoso.com'],
        }),
      });
      expect(accepted.status).toBe(202);
      const { id } = (await accepted.json()) as { id: string };
      let state = '';
      let chat: { id?: string } | undefined;
      for (let tries = 0; tries < 600 && state !== 'succeeded' && state !== 'failed'; tries += 1) {
        await new Promise((r) => setTimeout(r, 100));
        const answer = await fetch(`${host.url}/api/requests/${id}`, { headers: { 'x-functions-key': FUNCTION_KEY } });
        ({ state, chat } = (await answer.json()) as { state: string; chat?: { id?: string } });
      }
      if (state !== 'succeeded') console.error(lines.filter((l) => l.function === 'worker').slice(-10));
      expect(state).toBe('succeeded');
      expect(chat?.id).toEqual(expect.any(String));
    });
  });
});
