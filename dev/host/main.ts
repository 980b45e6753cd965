/**
 * `node dist/dev/host/main.js [--app-root .] [--port 7071]`: runs the local host until SIGINT/SIGTERM.
 * Storage, Graph and keys come from the environment and local.settings.json, as with `func start`.
 */
import { Command } from 'commander';
import * as path from 'node:path';
import { ConfigError, loadConfig } from '../../shared/platform/config';
import { readLocalSettings } from './app-settings';
import { consoleLogger } from './console';
import { jsonLinesToStdout, startLocalHost } from './index';

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: not a port: ${value}`);
  return port;
}

function keyList(value: string | undefined): string[] | undefined {
  return value
    ? value
        .split(',')
        .map((key) => key.trim())
        .filter(Boolean)
    : undefined;
}

async function main(): Promise<void> {
  const options = new Command('local-host')
    .description('Runs the function app on the local Azure Functions stand-in (see dev/host/README.md)')
    .option('--app-root <dir>', 'folder with host.json and package.json', '.')
    .option(
      '--log-format <format>',
      'text (readable lines, from LOG_LEVEL up) or json (every event, for tools)',
      'text',
    )
    .option(
      '--port <port>',
      'HTTP port (0 = any free port); default local.settings.json Host.LocalHttpPort or 7071',
      parsePort,
    )
    .parse(process.argv)
    .opts<{ appRoot: string; port?: number; logFormat: string }>();
  if (options.logFormat !== 'text' && options.logFormat !== 'json') {
    throw new Error(`--log-format: text or json, not "${options.logFormat}"`);
  }
  const logger = options.logFormat === 'json' ? jsonLinesToStdout : consoleLogger();

  // Keys are settings (environment, else local.settings.json), not flags: they stay out of shell history.
  const settings = readLocalSettings(path.resolve(options.appRoot))?.values ?? {};
  const setting = (name: string): string | undefined => process.env[name] || settings[name] || undefined;
  // The app's settings as the host will apply them (the environment wins over local.settings.json): an invalid
  // configuration stops the start here, naming every problem, rather than a host that answers 503 to everything.
  try {
    loadConfig({ ...settings, ...process.env });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new Error(`${error.message}\nFix them in local.settings.json (Values) or the environment.`, { cause: error });
  }
  const host = await startLocalHost({
    appRoot: options.appRoot,
    port: options.port,
    functionKeys: keyList(setting('LOCAL_HOST_FUNCTION_KEYS')),
    masterKey: setting('LOCAL_HOST_MASTER_KEY'),
    logger,
  });

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger({ event: 'host', phase: 'signal', signal });
    host.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  console.error(`The local host did not start.\n${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
