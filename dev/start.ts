import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { ConfigError, hasGraphCredentials, loadConfig } from '../shared/platform/config';
import { startAzurite, Azurite } from './azurite';
import { startLocalHost, LocalHost } from './host';
import { readLocalSettings } from './host/app-settings';
import { takenPorts } from './ports';
import { startGraphSimulator, GraphSimulator } from './simulator';
import type { DirectoryUserInput } from './simulator/directory';
import { readSimulatorState } from './simulator/persistence';
import { simulatorSettings, writeTrustBundle } from './simulator/settings';
import { HOST_REQUEST_BODY_LIMIT_BYTES } from '../shared/http/json-body';

/** Least seconds between operation checks when Graph is the local simulator (real Graph: 30). */
const SIMULATED_CHECK_SECONDS = 2;

/**
 * `npm start`: Azurite (data under .data/azurite), the Graph + Entra simulator unless Graph
 * credentials are configured (its state under .data/simulator), and the local Functions host on
 * http://localhost:7071. Settings already in the environment win over local.settings.json, as with Core Tools.
 *
 * Before anything starts, the configuration is checked (every problem is printed, and nothing runs) and the ports
 * are checked (a taken one is named, with the setting that picks another).
 *
 * Settings of the local run itself (environment or local.settings.json Values):
 * - LOCAL_DATA_DIR: where the run keeps its data (default .data, relative to the project).
 * - LOCAL_HOST_PORT: the host's port (default local.settings.json Host.LocalHttpPort, else 7071; 0 = any free port).
 * - SIMULATOR_PORT: the simulator's port (default: the one it had last time, else any free port).
 * - LOCAL_QUEUE_LEASE_SECONDS: how long a queue message taken by the worker stays invisible, renewed while it runs
 *   (default 30; the Functions host in Azure uses 10 minutes): after a crash of the run, what the dead worker
 *   held is picked up again this long after, not 10 minutes later.
 */

const ROOT = resolve(__dirname, '..', '..');
/** A Teams app id the simulator's catalog does not hold: the banner's way to make a request fail. */
const UNKNOWN_TEAMS_APP = '00000000-0000-4000-8000-00000000f411';
/** The people of the README's, docs/' and examples/' requests, known to the local run's simulator. */
const EXAMPLE_USERS = join(ROOT, 'dev', 'simulator', 'example-users.json');

/** The function key is made once and kept, like the host keeps its keys in storage. */
function functionKey(data: string): string {
  const file = join(data, 'function-key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const key = randomBytes(24).toString('base64url');
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

function usesDevelopmentStorage(value: string | undefined): boolean {
  return !value || value === 'UseDevelopmentStorage=true';
}

class StartProblem extends Error {}

function portSetting(settings: Record<string, string>, name: string): number | undefined {
  const raw = settings[name]?.trim();
  if (!raw) return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new StartProblem(`${name} is not a port (0-65535, 0 = any free port): ${JSON.stringify(raw)}`);
  }
  return port;
}

function secondsSetting(settings: Record<string, string>, name: string): number | undefined {
  const raw = settings[name]?.trim();
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 2 || seconds > 600) {
    throw new StartProblem(`${name} must be a whole number of seconds from 2 to 600: ${JSON.stringify(raw)}`);
  }
  return seconds;
}

/**
 * Every configuration problem, checked before anything starts: what `npm start` fills in itself (Azurite's
 * connection string, the simulator's tenant, app and URLs) is stood in for, everything else is as the host will
 * see it (the shell wins over what `npm start` fills in, which wins over local.settings.json).
 */
function configurationProblems(
  fileValues: Record<string, string>,
  shell: Record<string, string>,
  plan: { azurite: boolean; simulator: boolean },
): string | undefined {
  const standIns: Record<string, string | undefined> = {};
  if (plan.azurite) standIns.AzureWebJobsStorage = 'UseDevelopmentStorage=true';
  if (plan.simulator) {
    Object.assign(standIns, {
      GRAPH_TENANT_ID: '00000000-0000-4000-8000-000000000000',
      GRAPH_CLIENT_ID: '00000000-0000-4000-8000-000000000000',
      GRAPH_CLIENT_SECRET: 'stand-in',
      GRAPH_BASE_URL: 'https://localhost',
      GRAPH_AUTHORITY_HOST: 'https://localhost',
      ALLOW_LOCALHOST_CALLBACKS: 'true',
    });
  }
  const planned: Record<string, string | undefined> = { ...fileValues, ...standIns, ...shell };
  // npm start writes the simulator's CA bundle itself (including what NODE_EXTRA_CA_CERTS named).
  if (plan.simulator) planned.NODE_EXTRA_CA_CERTS = undefined;
  try {
    loadConfig(planned);
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
}

async function main(): Promise<void> {
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
    const local = readLocalSettings(ROOT);
    const shell = definedEnv();
    const settings: Record<string, string> = { ...local?.values, ...shell };
    const data = resolve(ROOT, settings.LOCAL_DATA_DIR?.trim() || '.data');
    const shown = data.startsWith(`${ROOT}${sep}`) ? relative(ROOT, data) : data;
    const plan = {
      azurite: usesDevelopmentStorage(settings.AzureWebJobsStorage) && !settings.AzureWebJobsStorage__accountName,
      simulator: !hasGraphCredentials(settings),
    };

    const invalid = configurationProblems(local?.values ?? {}, shell, plan);
    if (invalid) {
      throw new StartProblem(
        `${invalid}\nFix them in local.settings.json (Values) or the environment; local.settings.sample.json ` +
          'lists every setting, and the README its meaning.',
      );
    }

    const queueLeaseSeconds = secondsSetting(settings, 'LOCAL_QUEUE_LEASE_SECONDS') ?? 30;
    const simulatorState = join(data, 'simulator', 'state.json');
    const hostPort = portSetting(settings, 'LOCAL_HOST_PORT') ?? local?.localHttpPort ?? 7071;
    const simulatorPort =
      portSetting(settings, 'SIMULATOR_PORT') ?? (plan.simulator ? readSimulatorState(simulatorState)?.port : 0) ?? 0;
    const taken = await takenPorts([
      {
        port: hostPort,
        what: 'the local host',
        howToChange:
          'stop what uses it (another npm start?), or pick another port: LOCAL_HOST_PORT=7072 npm start ' +
          '(or Host.LocalHttpPort in local.settings.json)',
      },
      ...(plan.simulator
        ? [
            {
              port: simulatorPort,
              what: `the Graph simulator, the port of its last run so that operations pending in ${shown} still answer`,
              howToChange:
                'stop what uses it (another npm start?), or pick another port: SIMULATOR_PORT=0 npm start ' +
                '(any free port; requests pending on the old port then end as their operation deadline says)',
            },
          ]
        : []),
    ]);
    if (taken.length > 0) throw new StartProblem(`Ports in use:\n${taken.map((t) => `  - ${t}`).join('\n')}`);

    mkdirSync(data, { recursive: true });
    const env: Record<string, string> = {};
    // The host's body limit as in Azure (infra/app/api.bicep), unless local.settings.json or the shell set one.
    if (!settings.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT) {
      env.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT = String(HOST_REQUEST_BODY_LIMIT_BYTES);
    }
    if (plan.azurite) {
      // Azurite takes free ports (its URLs are not stored anywhere), so it cannot clash with another program.
      azurite = await startAzurite({ location: join(data, 'azurite'), silent: true });
      env.AzureWebJobsStorage = azurite.connectionString;
      console.log(`Azurite (queues, tables) on ${azurite.queueUrl} and ${azurite.tableUrl}; data in ${shown}/azurite`);
    }

    let caPath: string | undefined;
    if (plan.simulator) {
      sim = await startGraphSimulator({
        quiet: true,
        port: simulatorPort,
        stateFile: simulatorState,
        initialUsers: JSON.parse(readFileSync(EXAMPLE_USERS, 'utf8')) as DirectoryUserInput[],
      });
      // Trust the simulator in addition to whatever NODE_EXTRA_CA_CERTS already names (some machines set it).
      caPath = writeTrustBundle(join(data, 'simulator-ca.pem'), sim, settings.NODE_EXTRA_CA_CERTS);
      process.env.NODE_EXTRA_CA_CERTS = caPath;
      Object.assign(env, simulatorSettings(sim, caPath), { ALLOW_LOCALHOST_CALLBACKS: 'true' });
      // Microsoft's 30 s between operation checks is for real Graph; the simulator's operations end in
      // seconds, so a local example with an app finishes in seconds too (unless a setting says otherwise).
      if (!settings.OPERATION_CHECK_MIN_SECONDS) env.OPERATION_CHECK_MIN_SECONDS = String(SIMULATED_CHECK_SECONDS);
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
    const key = functionKey(data);
    host = await startLocalHost({
      appRoot: ROOT,
      port: hostPort,
      env,
      functionKeys: [key],
      masterKey: key,
      queueLeaseMs: queueLeaseSeconds * 1000,
    });
    console.log(banner(host, key, sim, caPath));
  } catch (error) {
    const message = error instanceof StartProblem ? error.message : (error as Error).message;
    console.error(`chat-provisioner did not start.\n${message}`);
    await stop();
    process.exit(1);
  }
}

/** What a newcomer needs: a request to paste, the CLI's settings, and the simulator's controls. */
function banner(host: LocalHost, key: string, sim: GraphSimulator | undefined, caPath: string | undefined): string {
  const example = readFileSync(join(ROOT, 'test', 'fixtures', 'graph-examples', '003-example-1.json'), 'utf8');
  // Single-quoted for the shell: the body's own quotes (users('…')) are closed, escaped and reopened.
  const compact = JSON.stringify(JSON.parse(example)).replace(/'/g, "'\\''");
  const url = host.url.replace('127.0.0.1', 'localhost');
  const lines = [
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
    'The CLI (npx chat-provisioner submit examples/new-hires.csv, list, watch) finds this run with:',
    `  export CHAT_PROVISIONER_URL=${url} CHAT_PROVISIONER_KEY=${key}`,
    '',
    `Ops page: ${url}/api/ui  (paste the function key above once; it stays in that browser tab)`,
    `Health: curl -s ${url}/api/health     OpenAPI: ${url}/api/openapi.json     Stop: Ctrl-C`,
  ];
  if (sim && caPath) {
    const curl = `curl -s --cacert '${caPath}'`;
    const json = "-H 'content-type: application/json'";
    lines.push(
      '',
      `Graph simulator control API: ${sim.url}/_sim  (its CA certificate: ${caPath}; see dev/simulator/README.md)`,
      `  chats made:   ${curl} ${sim.url}/_sim/chats`,
      `  add a user:   ${curl} -X POST ${sim.url}/_sim/users ${json} -d '{"userPrincipalName":"new.hire@contoso.com"}'`,
      `  add an app:   ${curl} -X POST ${sim.url}/_sim/apps ${json} -d '{"id":"<teamsAppId>"}'`,
      '  make a request fail: name a Teams app that is not in its catalog, e.g. add to the request',
      `    "apps":[{"teamsAppId":"${UNKNOWN_TEAMS_APP}"}]   (Graph answers 400, the request fails at once;`,
      '    a member unlicensed@contoso.com gets 403, retried through the new-hire grace before it fails)',
    );
  }
  lines.push('');
  return lines.join('\n');
}

function definedEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  return env;
}

void main();
