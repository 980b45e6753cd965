import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  DEFAULT_POLL_SCHEDULE,
  DEFAULT_QUEUE_NAME,
  NCRONTAB,
  pollSchedule,
  QUEUE_NAME,
  queueNames,
  TIMESPAN,
} from './app-settings';
import { DEFAULT_LOG_LEVEL, LOG_LEVELS, LogLevel, parseLogLevel } from './log';

/**
 * Every setting the service reads, validated at start. `loadConfig(env)` is the only code that
 * reads the environment; it reports every problem at once and never echoes a secret's value.
 */

// The function files read these at registration without loading zod (shared/platform/app-settings.ts).
export { pollSchedule, queueNames };

/** Names of every app setting the code reads (the infra consistency test checks the Bicep sets them). */
export const SETTING_NAMES = [
  'AzureWebJobsStorage',
  'AzureWebJobsStorage__accountName',
  'AzureWebJobsStorage__queueServiceUri',
  'AzureWebJobsStorage__tableServiceUri',
  'AzureWebJobsStorage__clientId',
  'AzureWebJobsStorage__credential',
  'GRAPH_TENANT_ID',
  'GRAPH_CLIENT_ID',
  'GRAPH_CLIENT_SECRET',
  'GRAPH_CLIENT_CERTIFICATE_PATH',
  'GRAPH_BASE_URL',
  'GRAPH_AUTHORITY_HOST',
  'CHAT_REQUESTS_QUEUE',
  'CHAT_REQUESTS_TABLE',
  'GRAPH_MAX_RPS',
  'NEW_USER_GRACE_MINUTES',
  'OPERATION_DEADLINE_MINUTES',
  'OPERATION_CHECK_MIN_SECONDS',
  'POLL_SCHEDULE',
  'WEBHOOK_SIGNING_SECRET',
  'CALLBACK_SIGNING_SECRET',
  'CALLBACK_ALLOWED_HOSTS',
  'ALLOW_LOCALHOST_CALLBACKS',
  'NODE_EXTRA_CA_CERTS',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'LOG_LEVEL',
] as const;

/** Settings whose values must never be logged or returned. */
export const SECRET_SETTINGS = [
  'AzureWebJobsStorage',
  'GRAPH_CLIENT_SECRET',
  'WEBHOOK_SIGNING_SECRET',
  'CALLBACK_SIGNING_SECRET',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
] as const;

export const DEFAULTS = {
  GRAPH_BASE_URL: 'https://graph.microsoft.com',
  GRAPH_AUTHORITY_HOST: 'https://login.microsoftonline.com',
  CHAT_REQUESTS_QUEUE: DEFAULT_QUEUE_NAME,
  CHAT_REQUESTS_TABLE: 'ChatRequests',
  GRAPH_MAX_RPS: 20,
  NEW_USER_GRACE_MINUTES: 240,
  OPERATION_DEADLINE_MINUTES: 30,
  /** Microsoft: "wait >30 seconds between checks" of a teamsAsyncOperation. */
  OPERATION_CHECK_MIN_SECONDS: 30,
  POLL_SCHEDULE: DEFAULT_POLL_SCHEDULE,
  LOG_LEVEL: DEFAULT_LOG_LEVEL,
} as const;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Table names: 3-63 alphanumerics, starting with a letter. The service adds "Work" to CHAT_REQUESTS_TABLE for its
// work table (shared/storage/table-store.ts), so that name may have at most 59.
export const TABLE_NAME = /^[A-Za-z][A-Za-z0-9]{2,58}$/;

const optionalString = z
  .string()
  .transform((s) => s.trim())
  .optional()
  .transform((s) => (s === '' ? undefined : s));

function httpsUrl(name: string, allowHttpLoopback: boolean) {
  return z
    .string()
    .trim()
    .refine(
      (value) => {
        try {
          const url = new URL(value);
          if (url.protocol === 'https:') return true;
          return allowHttpLoopback && url.protocol === 'http:' && isLoopbackHost(url.hostname);
        } catch {
          return false;
        }
      },
      { message: `${name} must be an absolute https:// URL` },
    )
    .transform((value) => value.replace(/\/+$/, ''));
}

function positiveNumber(name: string, max: number) {
  return z
    .string()
    .trim()
    .refine((s) => s !== '' && Number.isFinite(Number(s)) && Number(s) > 0 && Number(s) <= max, {
      message: `${name} must be a number greater than 0 and at most ${max}`,
    })
    .transform(Number);
}

/** Like positiveNumber, but 0 is a meaningful value ("none"), e.g. no grace window. */
function nonNegativeNumber(name: string, max: number) {
  return z
    .string()
    .trim()
    .refine((s) => s !== '' && Number.isFinite(Number(s)) && Number(s) >= 0 && Number(s) <= max, {
      message: `${name} must be a number from 0 to ${max}`,
    })
    .transform(Number);
}

function secretMatching(name: string, pattern: RegExp, hint: string) {
  // The message names the setting and the expected shape, never the value.
  return z
    .string()
    .trim()
    .refine((s) => pattern.test(s), { message: `${name} ${hint}` });
}

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

const envSchema = z.object({
  AzureWebJobsStorage: optionalString,
  AzureWebJobsStorage__accountName: optionalString,
  AzureWebJobsStorage__queueServiceUri: optionalString,
  AzureWebJobsStorage__tableServiceUri: optionalString,
  AzureWebJobsStorage__clientId: optionalString,
  GRAPH_TENANT_ID: optionalString.pipe(
    z.string().regex(GUID, 'GRAPH_TENANT_ID must be the directory (tenant) id, a GUID').optional(),
  ),
  GRAPH_CLIENT_ID: optionalString.pipe(
    z.string().regex(GUID, 'GRAPH_CLIENT_ID must be the application (client) id, a GUID').optional(),
  ),
  GRAPH_CLIENT_SECRET: optionalString,
  GRAPH_CLIENT_CERTIFICATE_PATH: optionalString,
  GRAPH_BASE_URL: optionalString.pipe(httpsUrl('GRAPH_BASE_URL', false).optional()),
  GRAPH_AUTHORITY_HOST: optionalString.pipe(httpsUrl('GRAPH_AUTHORITY_HOST', false).optional()),
  CHAT_REQUESTS_QUEUE: optionalString.pipe(
    z
      .string()
      .regex(QUEUE_NAME, 'CHAT_REQUESTS_QUEUE must be a storage queue name: 3-63 lowercase letters, digits, hyphens')
      .optional(),
  ),
  CHAT_REQUESTS_TABLE: optionalString.pipe(
    z
      .string()
      .regex(
        TABLE_NAME,
        'CHAT_REQUESTS_TABLE must be a table name of 3-59 letters and digits, starting with a letter (the service adds "Work" for its second table)',
      )
      .optional(),
  ),
  GRAPH_MAX_RPS: optionalString.pipe(positiveNumber('GRAPH_MAX_RPS', 1000).optional()),
  // 0: no grace, a 403 (no license) or 404 (user not found) fails the request at once.
  NEW_USER_GRACE_MINUTES: optionalString.pipe(nonNegativeNumber('NEW_USER_GRACE_MINUTES', 7 * 24 * 60).optional()),
  OPERATION_DEADLINE_MINUTES: optionalString.pipe(positiveNumber('OPERATION_DEADLINE_MINUTES', 7 * 24 * 60).optional()),
  OPERATION_CHECK_MIN_SECONDS: optionalString.pipe(positiveNumber('OPERATION_CHECK_MIN_SECONDS', 3600).optional()),
  POLL_SCHEDULE: optionalString.pipe(
    z
      .string()
      .refine((s) => NCRONTAB.test(s) || TIMESPAN.test(s), {
        message: 'POLL_SCHEDULE must be a 6-field NCRONTAB expression, e.g. "*/5 * * * * *"',
      })
      .optional(),
  ),
  WEBHOOK_SIGNING_SECRET: optionalString.pipe(
    secretMatching('WEBHOOK_SIGNING_SECRET', /^whsec_[A-Za-z0-9+/=]{16,}$/, 'must look like whsec_<base64>').optional(),
  ),
  CALLBACK_SIGNING_SECRET: optionalString.pipe(
    secretMatching(
      'CALLBACK_SIGNING_SECRET',
      /^whsec_[A-Za-z0-9+/=]{16,}$/,
      'must look like whsec_<base64>',
    ).optional(),
  ),
  CALLBACK_ALLOWED_HOSTS: optionalString,
  ALLOW_LOCALHOST_CALLBACKS: optionalString.pipe(
    z.enum(['true', 'false', '1', '0'], { message: 'ALLOW_LOCALHOST_CALLBACKS must be true or false' }).optional(),
  ),
  NODE_EXTRA_CA_CERTS: optionalString,
  APPLICATIONINSIGHTS_CONNECTION_STRING: optionalString,
  LOG_LEVEL: optionalString.pipe(
    z
      .string()
      .refine((s) => parseLogLevel(s) !== undefined, {
        message: `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`,
      })
      .transform((s) => parseLogLevel(s) as LogLevel)
      .optional(),
  ),
});

export type GraphCredentialConfig =
  | { kind: 'clientSecret'; tenantId: string; clientId: string; clientSecret: string }
  | { kind: 'clientCertificate'; tenantId: string; clientId: string; certificatePath: string }
  | { kind: 'managedIdentity'; tenantId?: string; clientId?: string };

export type StorageConfig =
  | { kind: 'connectionString'; connectionString: string }
  | { kind: 'identity'; queueServiceUri: string; tableServiceUri: string; clientId?: string };

export interface Config {
  storage: StorageConfig;
  graph: {
    credential: GraphCredentialConfig;
    baseUrl: string;
    authorityHost: string;
    /** PEM bundle of extra trusted CAs (NODE_EXTRA_CA_CERTS), handed to in-process TLS agents too. */
    extraCaCerts?: string;
    maxRps: number;
  };
  queueName: string;
  poisonQueueName: string;
  tableName: string;
  newUserGraceMinutes: number;
  operationDeadlineMinutes: number;
  /** Least time between two checks of one async operation (and from the 202 to the first check). */
  operationCheckMinSeconds: number;
  pollSchedule: string;
  webhookSigningSecret?: string;
  callback: { signingSecret?: string; allowedHosts: string[]; allowLocalhost: boolean };
  applicationInsightsConnectionString?: string;
  /** The lowest level of log event written (shared/platform/log.ts). */
  logLevel: LogLevel;
}

export interface ConfigProblem {
  setting: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p.setting}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env): Config {
  const parsed = envSchema.safeParse(pickSettings(env));
  const problems: ConfigProblem[] = parsed.success
    ? []
    : parsed.error.issues.map((issue) => ({ setting: String(issue.path[0] ?? '?'), message: issue.message }));
  const values = parsed.success ? parsed.data : undefined;

  const storage = values ? resolveStorage(values, problems) : undefined;
  const credential = values ? resolveGraphCredential(values, env, problems) : undefined;
  let extraCaCerts: string | undefined;
  if (values?.NODE_EXTRA_CA_CERTS) {
    try {
      extraCaCerts = readFileSync(values.NODE_EXTRA_CA_CERTS, 'utf8');
    } catch {
      problems.push({ setting: 'NODE_EXTRA_CA_CERTS', message: 'the file it names cannot be read' });
    }
  }
  const allowedHosts = (values?.CALLBACK_ALLOWED_HOSTS ?? '')
    .split(/[,\s]+/)
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  for (const host of allowedHosts) {
    if (!/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:\d+)?$/.test(host)) {
      problems.push({
        setting: 'CALLBACK_ALLOWED_HOSTS',
        message: `"${host}" is not a host name (e.g. hooks.contoso.com)`,
      });
    }
  }

  if (problems.length > 0 || !values || !storage || !credential) throw new ConfigError(problems);

  const queueName = values.CHAT_REQUESTS_QUEUE ?? DEFAULTS.CHAT_REQUESTS_QUEUE;
  return {
    storage,
    graph: {
      credential,
      baseUrl: values.GRAPH_BASE_URL ?? DEFAULTS.GRAPH_BASE_URL,
      authorityHost: values.GRAPH_AUTHORITY_HOST ?? DEFAULTS.GRAPH_AUTHORITY_HOST,
      extraCaCerts,
      maxRps: values.GRAPH_MAX_RPS ?? DEFAULTS.GRAPH_MAX_RPS,
    },
    queueName,
    poisonQueueName: `${queueName}-poison`,
    tableName: values.CHAT_REQUESTS_TABLE ?? DEFAULTS.CHAT_REQUESTS_TABLE,
    newUserGraceMinutes: values.NEW_USER_GRACE_MINUTES ?? DEFAULTS.NEW_USER_GRACE_MINUTES,
    operationDeadlineMinutes: values.OPERATION_DEADLINE_MINUTES ?? DEFAULTS.OPERATION_DEADLINE_MINUTES,
    operationCheckMinSeconds: values.OPERATION_CHECK_MIN_SECONDS ?? DEFAULTS.OPERATION_CHECK_MIN_SECONDS,
    pollSchedule: values.POLL_SCHEDULE ?? DEFAULTS.POLL_SCHEDULE,
    webhookSigningSecret: values.WEBHOOK_SIGNING_SECRET,
    callback: {
      signingSecret: values.CALLBACK_SIGNING_SECRET,
      allowedHosts,
      allowLocalhost: values.ALLOW_LOCALHOST_CALLBACKS === 'true' || values.ALLOW_LOCALHOST_CALLBACKS === '1',
    },
    applicationInsightsConnectionString: values.APPLICATIONINSIGHTS_CONNECTION_STRING,
    logLevel: values.LOG_LEVEL ?? DEFAULTS.LOG_LEVEL,
  };
}

/** True when Graph credentials are configured, i.e. `npm start` must not start the simulator. */
export function hasGraphCredentials(env: Env): boolean {
  return Boolean(env.GRAPH_TENANT_ID?.trim() && env.GRAPH_CLIENT_ID?.trim());
}

function pickSettings(env: Env): Record<string, string | undefined> {
  const picked: Record<string, string | undefined> = {};
  for (const name of SETTING_NAMES) picked[name] = env[name];
  return picked;
}

type Values = z.infer<typeof envSchema>;

function resolveStorage(values: Values, problems: ConfigProblem[]): StorageConfig | undefined {
  if (values.AzureWebJobsStorage) {
    if (values.AzureWebJobsStorage === 'UseDevelopmentStorage=true') {
      return { kind: 'connectionString', connectionString: values.AzureWebJobsStorage };
    }
    const parts = new Map(
      values.AzureWebJobsStorage.split(';')
        .filter(Boolean)
        .map((p) => {
          const i = p.indexOf('=');
          return [p.slice(0, i).trim().toLowerCase(), p.slice(i + 1)] as const;
        }),
    );
    const hasAccount = parts.has('accountname') && (parts.has('accountkey') || parts.has('sharedaccesssignature'));
    if (!hasAccount) {
      problems.push({
        setting: 'AzureWebJobsStorage',
        message: 'must be a storage connection string with AccountName and AccountKey (or SharedAccessSignature)',
      });
      return undefined;
    }
    return { kind: 'connectionString', connectionString: values.AzureWebJobsStorage };
  }
  const account = values.AzureWebJobsStorage__accountName;
  const queueServiceUri =
    values.AzureWebJobsStorage__queueServiceUri ?? (account ? `https://${account}.queue.core.windows.net` : undefined);
  const tableServiceUri =
    values.AzureWebJobsStorage__tableServiceUri ?? (account ? `https://${account}.table.core.windows.net` : undefined);
  if (!queueServiceUri || !tableServiceUri) {
    problems.push({
      setting: 'AzureWebJobsStorage',
      message:
        'is not set: give a connection string, or AzureWebJobsStorage__accountName (or both __queueServiceUri and __tableServiceUri) for managed identity',
    });
    return undefined;
  }
  return { kind: 'identity', queueServiceUri, tableServiceUri, clientId: values.AzureWebJobsStorage__clientId };
}

function resolveGraphCredential(
  values: Values,
  env: Env,
  problems: ConfigProblem[],
): GraphCredentialConfig | undefined {
  const tenantId = values.GRAPH_TENANT_ID;
  const clientId = values.GRAPH_CLIENT_ID;
  const secret = values.GRAPH_CLIENT_SECRET;
  const certificatePath = values.GRAPH_CLIENT_CERTIFICATE_PATH;
  if (secret && certificatePath) {
    problems.push({
      setting: 'GRAPH_CLIENT_SECRET',
      message: 'set either GRAPH_CLIENT_SECRET or GRAPH_CLIENT_CERTIFICATE_PATH, not both',
    });
    return undefined;
  }
  if (secret || certificatePath) {
    for (const name of ['GRAPH_TENANT_ID', 'GRAPH_CLIENT_ID'] as const) {
      if (!env[name]?.trim())
        problems.push({ setting: name, message: 'is required with a client secret or certificate' });
    }
    if (!tenantId || !clientId) return undefined;
    return secret
      ? { kind: 'clientSecret', tenantId, clientId, clientSecret: secret }
      : { kind: 'clientCertificate', tenantId, clientId, certificatePath: certificatePath as string };
  }
  // Neither secret nor certificate: the managed identity; GRAPH_CLIENT_ID then names a user-assigned one.
  return { kind: 'managedIdentity', tenantId, clientId };
}
