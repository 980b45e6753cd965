import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { startGraphSimulator } from './index';
import { readSimulatorState } from './persistence';

/**
 * `node dist/dev/simulator/main.js --port N --seed S --tenant-rps R --out DIR [--state FILE]`: one JSON line on
 * stdout, then serve.
 */

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be an integer >= 0');
  return n;
}

function positive(value: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError('must be a number > 0');
  return n;
}

async function main(argv: string[]): Promise<void> {
  const options = new Command()
    .name('graph-simulator')
    .description(
      'HTTPS simulator of the Entra ID token endpoint and the Microsoft Graph chat endpoints (127.0.0.1 only)',
    )
    .option('--port <n>', 'port to listen on (0 = any free port; default 0, or the port saved in --state)', integer)
    .option('--seed <n>', 'seed for ids and random faults', integer, 1)
    .option('--tenant-rps <n>', 'creates (POST /chats) per second per (tenant, app) before 429', positive, 30)
    .option('--read-rps <n>', 'reads (GET) per second per (tenant, app) before 429 (default: --tenant-rps)', positive)
    .option('--out <dir>', 'directory for ca.pem and client-certificate.pem', '.data/simulator')
    .option('--quiet', 'no banner on stderr', false)
    .option(
      '--state <file>',
      'keep users, apps, chats and operations in this file across restarts (and reuse its port unless --port is given)',
    )
    .parse(argv)
    .opts<{
      port?: number;
      seed: number;
      tenantRps: number;
      readRps?: number;
      out: string;
      quiet: boolean;
      state?: string;
    }>();

  const stateFile = options.state ? resolve(options.state) : undefined;
  const sim = await startGraphSimulator({
    port: options.port ?? (stateFile ? readSimulatorState(stateFile)?.port : undefined) ?? 0,
    stateFile,
    seed: options.seed,
    tenantRps: options.tenantRps,
    readRps: options.readRps,
    quiet: options.quiet,
  });
  const out = resolve(options.out);
  mkdirSync(out, { recursive: true });
  const caPath = resolve(out, 'ca.pem');
  const certificatePath = resolve(out, 'client-certificate.pem');
  writeFileSync(caPath, sim.ca);
  // The private key of a simulated app: readable by the owner only all the same.
  writeFileSync(certificatePath, sim.certificate.pem, { mode: 0o600 });
  process.stdout.write(
    `${JSON.stringify({
      url: sim.url,
      tenantId: sim.tenantId,
      clientId: sim.clientId,
      clientSecret: sim.clientSecret,
      caPath,
      certificatePath,
      certificateClientId: sim.certificate.clientId,
    })}\n`,
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    if (!options.quiet) console.error(`[graph-simulator] ${signal}: stopping`);
    sim.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main(process.argv).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
