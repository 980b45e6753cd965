/** Reads the parts of `host.json` the local host honours, with the real host's defaults. */

export type QueueMessageEncoding = 'base64' | 'none';

export interface QueueOptions {
  batchSize: number;
  newBatchThreshold: number;
  maxPollingIntervalMs: number;
  visibilityTimeoutMs: number;
  maxDequeueCount: number;
  messageEncoding: QueueMessageEncoding;
}

export type LogLevelName = 'Trace' | 'Debug' | 'Information' | 'Warning' | 'Error' | 'Critical' | 'None';

export interface HostConfig {
  routePrefix: string;
  /** undefined = unbounded (`"functionTimeout": "-1"`). */
  functionTimeoutMs: number | undefined;
  queues: QueueOptions;
  /** host.json `logging.logLevel`: category (`default`, `Function`, `Function.<name>`, `Host`...) to level. */
  logLevels: Record<string, LogLevelName>;
}

const millisecondsPerDay = 86_400_000;

/** WebJobs `QueuePollingIntervals.Minimum`. */
export const minimumPollingIntervalMs = 100;
/** Core Tools runs in the Development environment, where the queue extension lowers the default to 2 s. */
const developmentMaxPollingIntervalMs = 2_000;
const defaultMaxPollingIntervalMs = 60_000;
/** `ScriptJobHostOptionsSetup.DefaultFunctionTimeout` for every SKU but Consumption. */
const defaultFunctionTimeoutMs = 30 * 60_000;
const minimumFunctionTimeoutMs = 1_000;
const maxBatchSize = 32;

/**
 * Parses a .NET `TimeSpan` string: `[-]d`, `[-][d.]hh:mm[:ss[.fffffff]]`. Returns milliseconds.
 * A plain number (not a string) is taken as milliseconds, as some older host.json samples use.
 */
export function parseTimeSpan(value: unknown, name: string): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value !== 'string')
    throw new Error(`${name}: expected a TimeSpan string like "00:05:00", got ${JSON.stringify(value)}`);
  const text = value.trim();
  const daysOnly = /^(-)?(\d+)$/.exec(text);
  if (daysOnly) return (daysOnly[1] ? -1 : 1) * Number(daysOnly[2]) * millisecondsPerDay;
  const match = /^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$/.exec(text);
  if (!match) throw new Error(`${name}: "${value}" is not a TimeSpan (expected [d.]hh:mm[:ss[.fff]])`);
  const [, minus, days, hours, minutes, seconds, fraction] = match;
  if (Number(hours) > 23 || Number(minutes) > 59 || Number(seconds ?? 0) > 59) {
    throw new Error(`${name}: "${value}" is out of range`);
  }
  const ms =
    Number(days ?? 0) * millisecondsPerDay +
    Number(hours) * 3_600_000 +
    Number(minutes) * 60_000 +
    Number(seconds ?? 0) * 1_000 +
    Math.round(Number(`0.${fraction ?? '0'}`) * 1_000);
  return minus ? -ms : ms;
}

/** host.json binds to options case-insensitively, like .NET configuration. */
function pick(section: unknown, key: string): unknown {
  if (!section || typeof section !== 'object') return undefined;
  const entry = Object.entries(section).find(([k]) => k.toLowerCase() === key.toLowerCase());
  return entry?.[1];
}

function integer(value: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name}: expected an integer between ${min} and ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

function parseFunctionTimeout(value: unknown): number | undefined {
  if (value === undefined || value === null) return defaultFunctionTimeoutMs;
  const ms = parseTimeSpan(value, 'functionTimeout');
  if (ms === -millisecondsPerDay) return undefined;
  if (ms < minimumFunctionTimeoutMs)
    throw new Error('functionTimeout must be at least 00:00:01 (or "-1" for unbounded)');
  return ms;
}

function parseQueues(section: unknown, isDevelopment: boolean): QueueOptions {
  const batchSizeValue = pick(section, 'batchSize');
  const batchSize =
    batchSizeValue === undefined ? 16 : integer(batchSizeValue, 'extensions.queues.batchSize', 1, maxBatchSize);
  const thresholdValue = pick(section, 'newBatchThreshold');
  // The real default is batchSize/2 times the processor count; locally one "processor" keeps the bound predictable.
  const newBatchThreshold =
    thresholdValue === undefined
      ? Math.floor(batchSize / 2)
      : integer(thresholdValue, 'extensions.queues.newBatchThreshold', 0);
  const pollingValue = pick(section, 'maxPollingInterval');
  const maxPollingIntervalMs =
    pollingValue === undefined
      ? isDevelopment
        ? developmentMaxPollingIntervalMs
        : defaultMaxPollingIntervalMs
      : parseTimeSpan(pollingValue, 'extensions.queues.maxPollingInterval');
  if (maxPollingIntervalMs < minimumPollingIntervalMs) {
    throw new Error(`extensions.queues.maxPollingInterval must not be less than ${minimumPollingIntervalMs} ms`);
  }
  const visibilityValue = pick(section, 'visibilityTimeout');
  const visibilityTimeoutMs =
    visibilityValue === undefined ? 0 : parseTimeSpan(visibilityValue, 'extensions.queues.visibilityTimeout');
  if (visibilityTimeoutMs < 0) throw new Error('extensions.queues.visibilityTimeout must not be negative');
  const dequeueValue = pick(section, 'maxDequeueCount');
  const maxDequeueCount =
    dequeueValue === undefined ? 5 : integer(dequeueValue, 'extensions.queues.maxDequeueCount', 1);
  const encodingValue = pick(section, 'messageEncoding');
  const encoding = encodingValue === undefined ? 'base64' : String(encodingValue).toLowerCase();
  if (encoding !== 'base64' && encoding !== 'none') {
    throw new Error(
      `extensions.queues.messageEncoding must be "base64" or "none", got ${JSON.stringify(encodingValue)}`,
    );
  }
  return {
    batchSize,
    newBatchThreshold,
    maxPollingIntervalMs,
    visibilityTimeoutMs,
    maxDequeueCount,
    messageEncoding: encoding,
  };
}

const logLevelNames: LogLevelName[] = ['Trace', 'Debug', 'Information', 'Warning', 'Error', 'Critical', 'None'];

function parseLogLevels(section: unknown): Record<string, LogLevelName> {
  const levels: Record<string, LogLevelName> = {};
  if (!section || typeof section !== 'object') return levels;
  for (const [category, value] of Object.entries(section)) {
    const level = logLevelNames.find((name) => name.toLowerCase() === String(value).toLowerCase());
    if (level) levels[category] = level;
  }
  return levels;
}

/**
 * `isDevelopment`: AZURE_FUNCTIONS_ENVIRONMENT is Development, as under Core Tools; it only changes the
 * queue polling default (2 s instead of 1 min), exactly as the WebJobs queue extension does.
 */
export function parseHostJson(json: unknown, isDevelopment = true): HostConfig {
  if (!json || typeof json !== 'object') throw new Error('host.json must hold a JSON object');
  const version = pick(json, 'version');
  if (version !== '2.0') throw new Error(`host.json "version" must be "2.0", got ${JSON.stringify(version)}`);
  const extensions = pick(json, 'extensions');
  const routePrefixValue = pick(pick(extensions, 'http'), 'routePrefix');
  const routePrefix = routePrefixValue === undefined ? 'api' : String(routePrefixValue).replace(/^\/+|\/+$/g, '');
  return {
    routePrefix,
    functionTimeoutMs: parseFunctionTimeout(pick(json, 'functionTimeout')),
    queues: parseQueues(pick(extensions, 'queues'), isDevelopment),
    logLevels: parseLogLevels(pick(pick(json, 'logging'), 'logLevel')),
  };
}

/** Most specific host.json category wins: `Function.<name>.User`, `Function.<name>`, `Function`, `default`. */
export function minimumLogLevel(levels: Record<string, LogLevelName>, categories: string[]): LogLevelName {
  const lowerCased = new Map(Object.entries(levels).map(([k, v]) => [k.toLowerCase(), v]));
  for (const category of [...categories, 'default']) {
    const level = lowerCased.get(category.toLowerCase());
    if (level) return level;
  }
  return 'Information';
}

const rpcLevelRank: Record<string, number> = {
  trace: 0,
  debug: 1,
  information: 2,
  warning: 3,
  error: 4,
  critical: 5,
  none: 6,
};

/** True when a log line at `rpcLevel` (the worker's lower-case names) passes `minimum`. */
export function passesLogLevel(rpcLevel: string, minimum: LogLevelName): boolean {
  return (rpcLevelRank[rpcLevel] ?? 2) >= (rpcLevelRank[minimum.toLowerCase()] ?? 2) && minimum !== 'None';
}
