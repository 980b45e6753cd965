import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../cli';
import { startStack, Stack } from '../support/stack';
import { CapturedOutput } from '../support/captured-output';

/** The ops CLI against the real local host: Azurite, the simulator and the functions, over HTTP. */

async function cli(stack: Stack, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new CapturedOutput();
  const err = new CapturedOutput();
  const code = await main(
    ['node', 'chat-provisioner', ...args],
    { url: stack.host!.url, key: stack.functionKey },
    { out, err },
  );
  return { code, out: out.text, err: err.text };
}

const UNLICENSED = new Set([20, 60, 100]);

function csv(rows: number, bad: Map<number, string>): string {
  const lines = ['externalId,chatType,topic,members'];
  for (let i = 1; i <= rows; i += 1) {
    const first = UNLICENSED.has(i) ? `unlicensed${i}@contoso.com` : `user${i}@contoso.com`;
    lines.push(
      bad.get(i) ?? `e2e-${i},group,Welcome ${i},${first};user${i + 1000}@contoso.com;user${i + 2000}@contoso.com`,
    );
  }
  return `${lines.join('\n')}\n`;
}

describe('CLI end to end', () => {
  let stack: Stack;
  let dir: string;
  beforeAll(async () => {
    stack = await startStack({
      simulator: { tenantRps: 200 },
      env: { GRAPH_MAX_RPS: '100', NEW_USER_GRACE_MINUTES: '0.05' },
    });
    dir = mkdtempSync(join(tmpdir(), 'cli-e2e-'));
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('submit 200 rows with 5 bad ones, watch to the end, re-run creates nothing, list failures, retry one', async () => {
    // Prepare: 5 bad rows (file lines are row + 1 for the header) and 3 rows whose member has no
    // Teams license in the simulator (403, retried for the short grace window, then failed).
    const bad = new Map<number, string>([
      [10, 'e2e-10,oneOnOne,,user10@contoso.com;user11@contoso.com;user12@contoso.com'],
      [50, 'e2e-50,group,Bad: colon,user50@contoso.com;user51@contoso.com'],
      [90, 'e2e-90,meeting,x,user90@contoso.com;user91@contoso.com'],
      [130, 'e2e-130,group,Same twice,user130@contoso.com;user130@contoso.com;user131@contoso.com'],
      [170, 'e2e-170,group,Bad user,us er@contoso.com;user171@contoso.com'],
    ]);
    const file = join(dir, 'hires.csv');
    const results = join(dir, 'results.csv');
    writeFileSync(file, csv(200, bad));

    // Act: submit
    const submitted = await cli(stack, 'submit', file, '--skip-invalid', '--results', results);

    // Assess: every bad row named by its line number; the 195 others accepted.
    for (const row of bad.keys()) expect(submitted.out + submitted.err).toMatch(new RegExp(`line ${row + 1}\\b`));
    const accepted = readFileSync(results, 'utf8')
      .split('\n')
      .filter((l) => /,accepted,/.test(l));
    expect(accepted).toHaveLength(195);

    // watch reaches all-final (3 failed → exit 1)
    const watched = await cli(stack, 'watch', '--ids-from', results, '--interval', '1s', '--timeout', '5m');
    expect(watched.code).toBe(1);
    expect(stack.sim.control.chats().count).toBe(192);

    // Re-running the same CSV creates nothing new.
    const rerun = await cli(stack, 'submit', file, '--skip-invalid', '--results', join(dir, 'again.csv'));
    expect(
      readFileSync(join(dir, 'again.csv'), 'utf8')
        .split('\n')
        .filter((l) => /,replayed,/.test(l)),
    ).toHaveLength(195);
    expect(rerun.out + rerun.err).not.toMatch(/,accepted,/);
    expect(stack.sim.control.chats().count).toBe(192);

    // list --state failed shows the injected failures with Graph request ids.
    const failed = await cli(stack, 'list', '--state', 'failed', '--json');
    const rows = failed.out
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { id: string; error?: { code: string; graphRequestId?: string } });
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row.error?.code).toBe('Forbidden');
      expect(row.error?.graphRequestId).toMatch(/^[0-9a-f-]{36}$/);
    }

    // retry recovers one, once its member has a license.
    const recovered = await cli(stack, 'status', rows[0]!.id, '--json');
    const upn = (JSON.parse(recovered.out) as { members: { user: string }[] }).members[0]!.user;
    stack.sim.control.upsertUsers({ userPrincipalName: upn, licensed: true });
    const retried = await cli(stack, 'retry', rows[0]!.id);
    expect(retried.code).toBe(0);
    const after = await cli(stack, 'watch', '--ids-from', results, '--interval', '1s', '--timeout', '2m');
    expect(after.code).toBe(1);
    const status = await cli(stack, 'status', rows[0]!.id, '--json');
    expect(JSON.parse(status.out).state).toBe('succeeded');
    expect(stack.sim.control.chats().count).toBe(193);
  });
});
