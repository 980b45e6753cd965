#!/usr/bin/env node
/**
 * `chat-provisioner`: the ops command line for the chat-provisioner API. Wiring only: options are
 * parsed here and handed to the commands in ./commands, which talk to the API through ApiClient.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { MAX_BATCH_SIZE } from './api-client';
import { health } from './commands/health';
import { list } from './commands/list';
import { retry } from './commands/retry';
import { status } from './commands/status';
import { DEFAULT_CHUNK, submit } from './commands/submit';
import { DEFAULT_INTERVAL_MS, DEFAULT_TIMEOUT_MS, watch } from './commands/watch';
import { CommandContext, createContext, Output, runCommand } from './context';
import { parseDuration } from './duration';
import { ExitCode, UsageError } from './exit-codes';
import { findLocalProject, LocalProject } from './project';

export const DEFAULT_URL = 'http://localhost:7071';

export interface CliEnvironment {
  /** CHAT_PROVISIONER_URL */
  url?: string;
  /** Run inside a checkout: the local host's URL and key (cli/project.ts), used when nothing else says. */
  project?: LocalProject;
  /** CHAT_PROVISIONER_KEY: only from the environment, so it stays out of shell history and `ps`. */
  key?: string;
  /** CHAT_PROVISIONER_SIGNING_SECRET: signs POSTs when the service requires webhook signatures. */
  signingSecret?: string;
}

export interface CliIo {
  out: Output;
  err: Output;
  fetch?: typeof fetch;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

/** The only place the CLI reads process.env (and, inside a checkout, local.settings.json and .data/function-key). */
export function cliEnvironment(env: NodeJS.ProcessEnv, cwd?: string): CliEnvironment {
  const result: CliEnvironment = {};
  const project = cwd === undefined ? undefined : findLocalProject(cwd);
  if (project) result.project = project;
  if (env.CHAT_PROVISIONER_URL) result.url = env.CHAT_PROVISIONER_URL;
  if (env.CHAT_PROVISIONER_KEY) result.key = env.CHAT_PROVISIONER_KEY;
  if (env.CHAT_PROVISIONER_SIGNING_SECRET) result.signingSecret = env.CHAT_PROVISIONER_SIGNING_SECRET;
  return result;
}

function wholeNumber(name: string, min: number, max: number) {
  return (value: string): number => {
    const number = Number(value);
    if (!/^\d+$/.test(value.trim()) || number < min || number > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}.`);
    }
    return number;
  };
}

function duration(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) throw new InvalidArgumentError('expected a duration such as 2s, 30m or 1h.');
  return ms;
}

function format(value: string): 'csv' | 'jsonl' {
  if (value !== 'csv' && value !== 'jsonl') throw new InvalidArgumentError('expected csv or jsonl.');
  return value;
}

/** Runs the CLI with `argv` (as process.argv: node, script, args...) and answers the exit code. */
export async function main(argv: readonly string[], env: CliEnvironment, io: CliIo): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = new Command()
    .name('chat-provisioner')
    .description('Submit and follow Microsoft Teams chat requests through the chat-provisioner API.')
    .addOption(
      new Option(
        '--url <url>',
        `API base URL (default: CHAT_PROVISIONER_URL, else local.settings.json Host.LocalHttpPort in this project, else ${DEFAULT_URL})`,
      ),
    )
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (text) => io.out.write(text), writeErr: (text) => io.err.write(text) })
    .exitOverride();
  program.addHelpText(
    'after',
    '\nEnvironment:\n  CHAT_PROVISIONER_URL  API base URL (inside this project: http://localhost:<Host.LocalHttpPort>, else http://localhost:7071)\n' +
      '  CHAT_PROVISIONER_KEY  function key, sent as x-functions-key (inside this project, with a local URL: .data/function-key)\n' +
      '  CHAT_PROVISIONER_SIGNING_SECRET  whsec_… secret to sign POSTs when the service requires signatures\n' +
      '\nExit codes: 0 ok, 1 some rows or requests failed or were rejected, 2 usage or input error, 3 API unavailable.',
  );

  /** `needsKey`: the command calls routes that want a function key, so a missing one is said before any call. */
  const run = (command: Command, work: (ctx: CommandContext) => Promise<number>, needsKey = true): Promise<void> => {
    const target = resolveTarget(command.optsWithGlobals<{ url?: string }>().url, env);
    return runCommand(
      io.err,
      async () => {
        if (needsKey && !target.key) throw new UsageError(missingKey(target));
        const ctx = createContext({
          baseUrl: target.url,
          urlSource: target.source,
          key: target.key,
          signingSecret: env.signingSecret,
          ...io,
        });
        return work(ctx);
      },
      target.source,
    ).then((code) => {
      exitCode = code;
    });
  };

  program
    .command('submit')
    .description('validate a CSV or JSONL file of requests, then send it in batches')
    .argument('<file>', 'a .csv or .jsonl file (see docs/cli.md)')
    .option(
      '--chunk <rows>',
      `rows per batch call (1-${MAX_BATCH_SIZE})`,
      wholeNumber('--chunk', 1, MAX_BATCH_SIZE),
      DEFAULT_CHUNK,
    )
    .option('--results <file>', 'write a CSV mapping each row to its request id and status')
    .option('--dry-run', 'validate only; send nothing')
    .option('--skip-invalid', 'send the valid rows even if some rows are invalid')
    .option('--encoding <name>', "the file's text encoding when it is not UTF-8 (latin1, windows-1252, utf-16le)")
    .option('--format <format>', 'csv or jsonl, when the file name does not say', format)
    .action((file: string, options: { dryRun?: boolean }, command: Command) =>
      run(command, (ctx) => submit(file, options, ctx), !options.dryRun),
    );

  program
    .command('status')
    .description('show one request')
    .argument('<id>', 'request id')
    .option('--json', 'print the resource as JSON')
    .action((id: string, options, command: Command) => run(command, (ctx) => status(id, options, ctx)));

  program
    .command('list')
    .description('list requests (newest first), following every page')
    .option('--state <state>', 'queued, creating, pending, succeeded or failed')
    .option('--since <when>', 'created since: a duration back from now (1h, 30m) or an ISO time')
    .option(
      '--external-prefix <prefix>',
      'externalId starts with this (filtered here: combine with --since on a long history)',
    )
    .option('--external-id <id>', 'exactly this externalId')
    .option('--top <n>', 'at most this many requests', wholeNumber('--top', 1, 1_000_000))
    .option('--json', 'one JSON object per line')
    .action((options, command: Command) => run(command, (ctx) => list(options, ctx)));

  program
    .command('retry')
    .description('queue a failed request again (or every failed one)')
    .argument('[id]', 'request id')
    .option('--all-failed', 'retry every failed request (with --since / --external-prefix to narrow)')
    .option('--since <when>', 'with --all-failed: created since (1h, 30m or an ISO time)')
    .option('--external-prefix <prefix>', 'with --all-failed: externalId starts with this')
    .action((id: string | undefined, options, command: Command) => run(command, (ctx) => retry(id, options, ctx)));

  program
    .command('watch')
    .description('poll requests until all are final; exit 0 if all succeeded')
    .option('--external-prefix <prefix>', 'watch requests whose externalId starts with this')
    .option('--since <when>', 'with --external-prefix: only requests created since (1h, 30m or an ISO time)')
    .option('--ids-from <results.csv>', 'watch the request ids in a results file from submit --results')
    .option('--interval <duration>', 'time between polls', duration, DEFAULT_INTERVAL_MS)
    .option('--timeout <duration>', 'give up after this long', duration, DEFAULT_TIMEOUT_MS)
    .action(
      (
        options: { externalPrefix?: string; since?: string; idsFrom?: string; interval: number; timeout: number },
        command: Command,
      ) =>
        run(command, (ctx) =>
          watch(
            {
              externalPrefix: options.externalPrefix,
              since: options.since,
              idsFrom: options.idsFrom,
              intervalMs: options.interval,
              timeoutMs: options.timeout,
            },
            ctx,
          ),
        ),
    );

  program
    .command('health')
    .description('check the API (storage and Graph configuration)')
    .option('--json', 'print the report as JSON')
    .action((options, command: Command) => run(command, (ctx) => health(options, ctx), false));

  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    throw error;
  }
  return exitCode;
}

/** Where the CLI sends its calls, with which key, and where that address came from (for error messages). */
export interface Target {
  url: string;
  source: string;
  key?: string;
}

export function resolveTarget(flag: string | undefined, env: CliEnvironment): Target {
  const project = env.project;
  let target: Target;
  if (flag !== undefined) target = { url: flag, source: '--url', key: env.key };
  else if (env.url !== undefined) target = { url: env.url, source: 'CHAT_PROVISIONER_URL', key: env.key };
  else if (project?.url !== undefined) {
    target = { url: project.url, source: `Host.LocalHttpPort in ${project.dir}/local.settings.json`, key: env.key };
  } else {
    const why = project?.problem ? `; ${project.problem}` : '';
    target = { url: DEFAULT_URL, source: `the default${why}`, key: env.key };
  }
  // npm start's key only ever goes to a local address, and only when nothing else names a key.
  if (target.key === undefined && project?.key !== undefined && isLocal(target.url)) target.key = project.key;
  return target;
}

function isLocal(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    return host === 'localhost' || host === '::1' || /^127\./.test(host);
  } catch {
    return false;
  }
}

function missingKey(target: Target): string {
  return (
    `no function key for ${target.url}: set CHAT_PROVISIONER_KEY (npm start prints it and keeps it in .data/function-key; ` +
    'in Azure: az functionapp keys list). Nothing was sent.'
  );
}

if (require.main === module) {
  main(process.argv, cliEnvironment(process.env, process.cwd()), { out: process.stdout, err: process.stderr }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`Error: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = ExitCode.usage;
    },
  );
}
