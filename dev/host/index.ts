/**
 * A small local stand-in for the Azure Functions host + Node worker: loads the app's `app.*` registrations
 * through `@azure/functions-core`, serves HTTP triggers, polls storage queues (Azurite) and runs timers,
 * honouring host.json. `func start` stays the real thing where Core Tools exist; nothing in the app depends on this.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { QueueClient } from '@azure/storage-queue';
import {
  applySettings,
  isSettingTrue,
  readLocalSettings,
  resolveBindingExpression,
  settingsToApply,
} from './app-settings';
import { readMainPattern, resolveEntryPoints } from './entry-points';
import type { FunctionKeys } from './function-keys';
import {
  coreState,
  installCoreModule,
  type HookCallback,
  type RegisteredFunction,
  type RpcBindingInfo,
  type RpcInvocationResponse,
} from './functions-core';
import { type HostConfig, minimumLogLevel, parseHostJson, passesLogLevel } from './host-json';
import { buildHttpRoutes, defaultRequestBodyLimitBytes, HttpListener } from './http-listener';
import { describeError, type HostLogger, InvocationRunner, runLogHooks } from './invocation';
import {
  encodeQueueMessage,
  normalizeQueueName,
  poisonQueueName,
  toOutgoingQueueMessages,
  toQueueTriggerInput,
  toQueueTriggerMetadata,
} from './queue-message';
import { QueueConnections } from './queue-connections';
import { QueueListener } from './queue-listener';
import { unknownConstraints } from './route-template';
import { TimerListener } from './timer-listener';
import { consoleLogger } from './console';
import { logLevelFrom } from '../../shared/platform/log';
import { parseTimerSchedule } from './timer-schedule';

export type { RegisteredFunction } from './functions-core';

export interface LocalHostOptions {
  /** Folder with host.json and package.json. */
  appRoot: string;
  /** Modules (or globs, relative to appRoot) to require; default: package.json "main", as the worker does. */
  entryPoints?: string[];
  /** Default: local.settings.json Host.LocalHttpPort, else 7071; 0 = a free port. */
  port?: number;
  /** Settings for the app. A variable already in process.env wins, then these, then local.settings.json Values. */
  env?: Record<string, string>;
  /** Keys accepted for authLevel 'function' (x-functions-key header or ?code=). */
  functionKeys?: string[];
  /** Accepted for 'function' and 'admin' levels. */
  masterKey?: string;
  /**
   * How long a received queue message stays invisible (renewed at half of it while the function runs); default
   * 10 minutes, as the Functions host. After a crash of the host its messages come back when this runs out.
   */
  queueLeaseMs?: number;
  /** Structured host logs (objects); default: readable lines on stdout from LOG_LEVEL up (dev/host/console.ts). */
  logger?: (line: object) => void;
}

export interface LocalHost {
  /** `http://127.0.0.1:<port>` (the host also answers on [::1], so `localhost` works). */
  url: string;
  port: number;
  functions: RegisteredFunction[];
  stop(): Promise<void>;
  /** Runs one tick of a timer function now; resolves when it (or the run it was skipped for) finishes. */
  invokeTimer(name: string): Promise<void>;
}

/** How long stop() waits for running invocations before giving up on them. */
const stopTimeoutMs = 10_000;
const defaultPort = 7071;

/** For tools: every host line as one JSON object (`main.js --log-format json`); people get dev/host/console.ts. */
export function jsonLinesToStdout(line: object): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...line })}\n`);
}

/** The host must never crash because a logger threw. */
function safeLogger(logger: (line: object) => void): HostLogger {
  return (line) => {
    try {
      logger(line);
    } catch {
      // ignored on purpose
    }
  };
}

function triggerOf(fn: RegisteredFunction): [string, RpcBindingInfo] {
  const entry = Object.entries(fn.metadata.bindings).find(([, binding]) => /trigger$/i.test(binding.type ?? ''));
  if (!entry) throw new Error(`function "${fn.name}" has no trigger binding`);
  return entry;
}

async function executeAppHooks(hookName: 'appStart' | 'appTerminate', appRoot: string): Promise<void> {
  const context = {
    get hookData() {
      return coreState.appLevelOnlyHookData;
    },
    get appHookData() {
      return coreState.appHookData;
    },
    ...(hookName === 'appStart' ? { functionAppDirectory: appRoot } : {}),
  };
  for (const callback of [...(coreState.hooks[hookName] as HookCallback[])]) await callback(context);
}

function loadEntryPoints(appRoot: string, patterns: string[]): string[] {
  const files: string[] = [];
  for (const pattern of patterns) {
    const matches = resolveEntryPoints(appRoot, pattern);
    if (matches.length === 0) {
      throw new Error(
        `Worker was unable to load entry point "${pattern}": Found zero files matching the supplied pattern`,
      );
    }
    files.push(...matches);
  }
  coreState.indexingLocked = false;
  for (const file of files) {
    coreState.currentEntryPoint = file;
    try {
      // The worker loads CommonJS entry points with require, and so do we (jest's require under jest).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(file);
    } catch (error) {
      throw new Error(
        `Worker was unable to load entry point "${path.relative(appRoot, file)}": ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    } finally {
      coreState.currentEntryPoint = undefined;
    }
  }
  coreState.indexingLocked = true;
  return files;
}

export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  installCoreModule();
  const appRoot = path.resolve(options.appRoot);
  const emit = safeLogger(options.logger ?? consoleLogger());
  const local = readLocalSettings(appRoot);
  const restoreSettings = applySettings(
    process.env,
    settingsToApply(process.env, [options.env, local?.values, { AZURE_FUNCTIONS_ENVIRONMENT: 'Development' }]),
  );
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    return await start(options, appRoot, local?.localHttpPort, emit, restoreSettings, cleanups);
  } catch (error) {
    for (const cleanup of cleanups.reverse()) await cleanup();
    restoreSettings();
    coreState.indexingLocked = false;
    throw error;
  }
}

async function start(
  options: LocalHostOptions,
  appRoot: string,
  localHttpPort: number | undefined,
  emit: HostLogger,
  restoreSettings: () => void,
  cleanups: (() => Promise<void> | void)[],
): Promise<LocalHost> {
  const hostJsonFile = path.join(appRoot, 'host.json');
  if (!fs.existsSync(hostJsonFile)) throw new Error(`No host.json in ${appRoot}`);
  const config: HostConfig = parseHostJson(
    JSON.parse(fs.readFileSync(hostJsonFile, 'utf8')),
    (process.env.AZURE_FUNCTIONS_ENVIRONMENT ?? '').toLowerCase() === 'development',
  );
  // LOG_LEVEL=debug lowers host.json's floor for function logs to Debug, so the app's debug events show locally
  // (in Azure the same needs AzureFunctionsJobHost__logging__logLevel__Function=Debug).
  const debugging = logLevelFrom(process.env) === 'debug';
  const levelFor = (functionName: string, category: string): ReturnType<typeof minimumLogLevel> => {
    const level = minimumLogLevel(
      config.logLevels,
      category === 'user'
        ? [`Function.${functionName}.User`, `Function.${functionName}`, 'Function']
        : [`Function.${functionName}`, 'Function'],
    );
    return debugging && level !== 'None' && !passesLogLevel('debug', level) ? 'Debug' : level;
  };
  coreState.logSink = (entry) => {
    const hooked = runLogHooks(entry);
    if (passesLogLevel(hooked.level, minimumLogLevel(config.logLevels, ['Host']))) {
      emit({ event: 'log', level: hooked.level, category: entry.category, message: hooked.message });
    }
  };

  const patterns = options.entryPoints ?? [readMainPattern(appRoot) ?? 'index.js'];
  const loaded = new Set(loadEntryPoints(appRoot, patterns));
  const model = coreState.programmingModel;
  const functions = [...coreState.functions.values()].filter(
    (fn) => fn.entryPoint === undefined || loaded.has(fn.entryPoint),
  );
  if (!model) {
    throw new Error(
      'No function registered with @azure/functions-core: "@azure/functions" ran in test mode. Under jest, map it: ' +
        `moduleNameMapper: { '^@azure/functions-core$': '<rootDir>/dev/host/functions-core.ts' }`,
    );
  }
  const capabilities = (await model.getCapabilities?.({})) ?? {};
  if (capabilities.HttpUri) throw new Error('app.setup({ enableHttpStream: true }) is not supported by the local host');
  if (functions.length === 0) emit({ event: 'host', phase: 'warning', message: 'No job functions found.' });

  const enabled = functions.filter((fn) => {
    const disabled = isSettingTrue(process.env[`AzureWebJobs.${fn.name}.Disabled`]);
    if (disabled) emit({ event: 'host', phase: 'function-disabled', function: fn.name });
    return !disabled;
  });

  const connections = new QueueConnections(process.env);
  const queueClient = (connection: unknown, queueName: string): QueueClient => connections.queue(connection, queueName);
  const queueListeners = new Map<string, QueueListener[]>();

  // Output bindings the host writes after a successful invocation: storage queues.
  const queueOutputs = new Map<string, { name: string; client: QueueClient }[]>();
  for (const fn of enabled) {
    const outputs: { name: string; client: QueueClient }[] = [];
    for (const [name, binding] of Object.entries(fn.metadata.bindings)) {
      const type = (binding.type ?? '').toLowerCase();
      if (/trigger$/.test(type)) continue;
      if (binding.direction === 'out' && type === 'queue') {
        const queueName = normalizeQueueName(resolveBindingExpression(String(binding.queueName ?? ''), process.env));
        outputs.push({ name, client: queueClient(binding.connection, queueName) });
      } else if (!(binding.direction === 'out' && type === 'http')) {
        emit({
          event: 'host',
          phase: 'warning',
          function: fn.name,
          message: `${binding.direction} binding "${name}" of type "${binding.type}" is not supported by the local host and is ignored`,
        });
      }
    }
    if (outputs.length > 0) queueOutputs.set(fn.functionId, outputs);
  }
  const writeOutputs = async (fn: RegisteredFunction, response: RpcInvocationResponse): Promise<void> => {
    for (const { name, client } of queueOutputs.get(fn.functionId) ?? []) {
      const data = name === '$return' ? response.returnValue : response.outputData?.find((o) => o.name === name)?.data;
      for (const body of toOutgoingQueueMessages(data)) {
        const text = encodeQueueMessage(body, config.queues.messageEncoding);
        try {
          await client.sendMessage(text);
        } catch (error) {
          if ((error as { statusCode?: number }).statusCode !== 404) throw error;
          await client.createIfNotExists();
          await client.sendMessage(text);
        }
      }
      // Like the host's SharedQueueWatcher: a listener on that queue polls right away.
      for (const listener of queueListeners.get(client.name) ?? []) listener.notify();
    }
  };

  const runner = new InvocationRunner({
    emit,
    functionTimeoutMs: config.functionTimeoutMs,
    minimumLevel: levelFor,
    writeOutputs,
  });

  // Listeners are built (and validated) before anything starts.
  const routes = buildHttpRoutes(enabled, config.routePrefix);
  for (const route of routes) {
    const unknown = unknownConstraints(route.template);
    if (unknown.length > 0) {
      emit({
        event: 'host',
        phase: 'warning',
        function: route.fn.name,
        message: `unknown route constraint(s) ${unknown.join(', ')} accept any value locally`,
      });
    }
  }
  const timers = new Map<string, TimerListener>();
  const pendingQueueListeners: QueueListener[] = [];
  const stopSignal = new AbortController();
  for (const fn of enabled) {
    const [triggerName, trigger] = triggerOf(fn);
    const type = (trigger.type ?? '').toLowerCase();
    if (type === 'queuetrigger') {
      const queueName = normalizeQueueName(resolveBindingExpression(String(trigger.queueName ?? ''), process.env));
      const poisonName = poisonQueueName(queueName);
      const listener = new QueueListener({
        functionName: fn.name,
        queue: queueClient(trigger.connection, queueName),
        poisonQueue: poisonName ? queueClient(trigger.connection, poisonName) : undefined,
        options: config.queues,
        leaseMs: options.queueLeaseMs,
        emit,
        process: async (message, body) => {
          const outcome = await runner.invoke(
            fn,
            {
              inputData: [{ name: triggerName, data: toQueueTriggerInput(body, trigger.dataType) }],
              triggerMetadata: toQueueTriggerMetadata(message, body),
            },
            { trigger: 'queue', queue: queueName, messageId: message.messageId, dequeueCount: message.dequeueCount },
          );
          return outcome.outcome === 'succeeded';
        },
      });
      queueListeners.set(queueName, [...(queueListeners.get(queueName) ?? []), listener]);
      pendingQueueListeners.push(listener);
    } else if (type === 'timertrigger') {
      const schedule = parseTimerSchedule(resolveBindingExpression(String(trigger.schedule ?? ''), process.env));
      timers.set(
        fn.name.toLowerCase(),
        new TimerListener({
          functionName: fn.name,
          schedule,
          runOnStartup: trigger.runOnStartup === true,
          useMonitor: trigger.useMonitor,
          emit,
          run: (timerInput, details) =>
            runner.invokeWithRetry(
              fn,
              { inputData: [{ name: triggerName, data: timerInput }] },
              details,
              stopSignal.signal,
            ),
        }),
      );
    } else if (type !== 'httptrigger') {
      emit({
        event: 'host',
        phase: 'warning',
        function: fn.name,
        message: `trigger type "${trigger.type}" is not supported by the local host; the function will not run`,
      });
    }
  }

  await executeAppHooks('appStart', appRoot);

  const keys: FunctionKeys = { functionKeys: options.functionKeys ?? [], masterKey: options.masterKey };
  if (routes.some((r) => r.authLevel !== 'anonymous') && keys.functionKeys.length === 0 && !keys.masterKey) {
    emit({
      event: 'host',
      phase: 'warning',
      message: 'no functionKeys/masterKey configured: routes with authLevel function/admin answer 401',
    });
  }
  const bodyLimit = Number(process.env.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT) || defaultRequestBodyLimitBytes;
  const http = new HttpListener({
    routes,
    runner,
    keys,
    emit,
    requestBodyLimitBytes: bodyLimit,
    homepage: !isSettingTrue(process.env.AzureWebJobsDisableHomepage),
  });
  cleanups.push(() => {
    http.stopAccepting();
    http.closeAllConnections();
  });
  const port = await http.listen(options.port ?? localHttpPort ?? defaultPort);
  const url = `http://127.0.0.1:${port}`;
  for (const listener of pendingQueueListeners) listener.start();
  for (const timer of timers.values()) timer.start();

  emit({
    event: 'host',
    phase: 'started',
    url,
    functions: enabled.map((fn) => {
      const [, trigger] = triggerOf(fn);
      const route = routes.find((r) => r.fn === fn);
      return {
        name: fn.name,
        trigger: trigger.type,
        ...(route
          ? { methods: [...route.methods], url: `${url}/${route.template.template}`, authLevel: route.authLevel }
          : {}),
        ...(trigger.queueName ? { queueName: trigger.queueName } : {}),
        ...(trigger.schedule
          ? { schedule: trigger.schedule, next: timers.get(fn.name.toLowerCase())?.nextOccurrence?.toISOString() }
          : {}),
      };
    }),
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      emit({ event: 'host', phase: 'stopping' });
      stopSignal.abort();
      http.stopAccepting();
      const allQueueListeners = [...queueListeners.values()].flat();
      await Promise.all(allQueueListeners.map((listener) => listener.stopPolling()));
      const waits = [
        ...[...timers.values()].map((timer) => timer.stop()),
        ...allQueueListeners.flatMap((listener) => [...listener.processing]),
        ...runner.inFlight,
        http.drained(),
      ];
      let bound: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        Promise.allSettled(waits).then(() => true),
        new Promise<boolean>((resolve) => (bound = setTimeout(() => resolve(false), stopTimeoutMs))),
      ]);
      clearTimeout(bound);
      if (!finished) {
        emit({
          event: 'host',
          phase: 'warning',
          message: `invocations still running after ${stopTimeoutMs} ms; stopping anyway`,
        });
        for (const listener of allQueueListeners) listener.abandon();
      }
      try {
        await executeAppHooks('appTerminate', appRoot);
      } catch (error) {
        emit({ event: 'host', phase: 'error', message: 'appTerminate hook failed', error: describeError(error) });
      }
      http.closeAllConnections();
      restoreSettings();
      coreState.indexingLocked = false;
      emit({ event: 'host', phase: 'stopped' });
    })();
    return stopping;
  };

  return {
    url,
    port,
    functions,
    stop,
    invokeTimer: (name) => {
      const timer = timers.get(name.toLowerCase());
      if (!timer) return Promise.reject(new Error(`no enabled timer function named "${name}"`));
      return timer.tick('manual');
    },
  };
}
