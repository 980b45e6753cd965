import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hasGraphCredentials } from '../shared/config';
import { startAzurite, Azurite } from './azurite';
import { startLocalHost, LocalHost } from './host';
import { startGraphSimulator, GraphSimulator } from './simulator';
import { simulatorSettings, writeTrustBundle } from './simulator/settings';
import { HOST_REQUEST_BODY_LIMIT_BYTES } from '../shared/json-body';

/**
 * `npm start`: Azurite (data under .data/azurite), the Graph + Entra simulator unless Graph
 * credentials are configured, and the local Functions host on http://localhost:7071.
 * Settings already in the environment win over local.settings.json, as with Core Tools.
 */

const ROOT = resolve(__dirname, '..', '..');
const DATA = join(ROOT, '.data');

function localSettings(): Record<string, string> {
  const file = join(ROOT, 'local.settings.json');
  if (!existsSync(file)) return {};
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, string> };
    return parsed.Values ?? {};
  } catch (error) {
    throw new Error(`local.settings.json is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

/** The function key is made once and kept, like the host keeps its keys in storage. */
function functionKey(): string {
  const file = join(DATA, 'function-key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const key = randomBytes(24).toString('base64url');
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

function usesDevelopmentStorage(value: string | undefined): boolean {
  return !value || value === 'UseDevelopmentStorage=true';
}

async function main(): Promise<void> {
  mkdirSync(DATA, { recursive: true });
  const settings = { ...localSettings(), ...definedEnv() };
  const env: Record<string, string> = {};
  // The host's body limit as in Azure (infra/app/api.bicep), unless local.settings.json or the shell set one.
  if (!settings.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT) {
    env.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT = String(HOST_REQUEST_BODY_LIMIT_BYTES);
  }
  let azurite: Azurite | undefined;
  let sim: GraphSimulator | undefined;
  let host: LocalHost | undefined;

  const stop = async (): Promise<void> => {
    await host?.stop().catch(() => undefined);
    await sim?.stop().catch(() => undefined);
    await azurite?.stop().catch(() => undefined);
  };
  let stopping = false;
  const onSignal = (): void => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping the host, the simulator and Azurite…');
    void stop().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    if (usesDevelopmentStorage(settings.AzureWebJobsStorage) && !settings.AzureWebJobsStorage__accountName) {
      azurite = await startAzurite({ location: join(DATA, 'azurite'), silent: true });
      env.AzureWebJobsStorage = azurite.connectionString;
      console.log(`Azurite (queues, tables) on ${azurite.queueUrl} and ${azurite.tableUrl}; data in .data/azurite`);
    }

    if (!hasGraphCredentials(settings)) {
      sim = await startGraphSimulator({ quiet: true });
      // Trust the simulator in addition to whatever NODE_EXTRA_CA_CERTS already names (some machines set it).
      const caPath = writeTrustBundle(join(DATA, 'simulator-ca.pem'), sim, settings.NODE_EXTRA_CA_CERTS);
      process.env.NODE_EXTRA_CA_CERTS = caPath;
      Object.assign(env, simulatorSettings(sim, caPath), { ALLOW_LOCALHOST_CALLBACKS: 'true' });
      console.log(
        [
          '',
          '==================================================================================',
          '  GRAPH IS SIMULATED: no Graph credentials are configured, so chats are created in',
          `  the local simulator at ${sim.url} (not in Microsoft Teams).`,
          '  Set GRAPH_TENANT_ID, GRAPH_CLIENT_ID and GRAPH_CLIENT_SECRET to use a real tenant.',
          '==================================================================================',
          '',
        ].join('\n'),
      );
    } else {
      console.log('Graph credentials are configured: chats are created in the real tenant.');
    }

    // Settings from the shell still win: only fill in what is not set.
    for (const [key, value] of Object.entries(env)) if (process.env[key] === undefined) process.env[key] = value;
    const key = functionKey();
    host = await startLocalHost({ appRoot: ROOT, env, functionKeys: [key], masterKey: key });
    const example = readFileSync(join(ROOT, 'test', 'fixtures', 'graph-examples', '003-example-1.json'), 'utf8');
    // Single-quoted for the shell: the body's own quotes (users('…')) are closed, escaped and reopened.
    const compact = JSON.stringify(JSON.parse(example)).replace(/'/g, "'\\''");
    const url = host.url.replace('127.0.0.1', 'localhost');
    console.log(
      [
        '',
        `chat-provisioner is running on ${url}/api  (functions: ${host.functions.map((f) => f.name).join(', ')})`,
        '',
        'Create a chat:',
        `  curl -s -X POST '${url}/api/requests' -H 'content-type: application/json' -H 'x-functions-key: ${key}' \\`,
        `    -d '${compact}'`,
        '',
        'Then follow it (id from the answer above):',
        `  curl -s '${url}/api/requests/<id>' -H 'x-functions-key: ${key}'`,
        '',
        `Ops page: ${url}/api/ui  (paste the function key above once; it stays in that browser tab)`,
        `Health: curl -s ${url}/api/health     OpenAPI: ${url}/api/openapi.json     Stop: Ctrl-C`,
        '',
      ].join('\n'),
    );
  } catch (error) {
    console.error(`Could not start: ${(error as Error).message}`);
    await stop();
    process.exit(1);
  }
}

function definedEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  return env;
}

void main();
