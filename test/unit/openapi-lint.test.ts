import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildOpenApiDocument } from '../../shared/http/openapi';

/**
 * The served OpenAPI document is clean under Redocly's recommended rules (redocly.yaml), linted by the
 * pinned @redocly/cli. The CLI sends usage data unless told not to: REDOCLY_TELEMETRY=off (and `telemetry:
 * off` in redocly.yaml), no update check, and a preload that refuses any address but loopback, so the
 * test fails if the tool tries to reach the network at all.
 */
const ROOT = resolve(__dirname, '../..');
const REDOCLY = join(ROOT, 'node_modules/@redocly/cli/bin/cli.js');
const LOOPBACK_ONLY = join(ROOT, 'test/support/loopback-only.js');

describe('OpenAPI lint (Redocly recommended rules)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'openapi-lint-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function lint(document: unknown): { status: number | null; totals: Record<string, number>; stderr: string } {
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(document, null, 2));
    const run = spawnSync(
      process.execPath,
      ['--require', LOOPBACK_ONLY, REDOCLY, 'lint', file, '--config', join(ROOT, 'redocly.yaml'), '--format', 'json'],
      {
        cwd: dir,
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH ?? '',
          HOME: dir,
          REDOCLY_TELEMETRY: 'off',
          REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
          REDOCLY_SUPPRESS_NOTIFICATIONS: 'true',
          CI: 'true',
        },
      },
    );
    const json = run.stdout.slice(run.stdout.indexOf('{'));
    const report = JSON.parse(json) as {
      totals: Record<string, number>;
      problems: { ruleId: string; message: string }[];
    };
    return { status: run.status, totals: report.totals, stderr: `${run.stderr}\n${JSON.stringify(report.problems)}` };
  }

  it('has no error and no warning, and the linter reaches for nothing but loopback', () => {
    const result = lint(buildOpenApiDocument());
    expect(result.stderr).not.toContain('LOOPBACK-ONLY');
    expect(result.totals).toMatchObject({ errors: 0, warnings: 0 });
    expect(result.status).toBe(0);
  });

  it('would catch a regression (no servers, no license)', () => {
    const { servers: _servers, ...withoutServers } = buildOpenApiDocument();
    const result = lint({ ...withoutServers, info: { title: 't', version: '1' } });
    expect(result.totals.errors).toBeGreaterThan(0);
    expect(result.totals.warnings).toBeGreaterThan(0);
    expect(result.stderr).toContain('no-empty-servers');
    expect(result.stderr).not.toContain('LOOPBACK-ONLY');
  });
});
