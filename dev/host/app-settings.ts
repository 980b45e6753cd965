/** App settings as Core Tools builds them: the environment first, then local.settings.json fills the gaps. */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface LocalSettings {
  values: Record<string, string>;
  localHttpPort?: number;
}

/** Reads `<appRoot>/local.settings.json` if present (`Values`, `Host.LocalHttpPort`). */
export function readLocalSettings(appRoot: string): LocalSettings | undefined {
  const file = path.join(appRoot, 'local.settings.json');
  if (!fs.existsSync(file)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`local.settings.json is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  return parseLocalSettings(json);
}

export function parseLocalSettings(json: unknown): LocalSettings {
  if (!json || typeof json !== 'object') throw new Error('local.settings.json must hold a JSON object');
  const { IsEncrypted, Values, Host } = json as { IsEncrypted?: unknown; Values?: unknown; Host?: unknown };
  if (IsEncrypted === true) {
    throw new Error('local.settings.json is encrypted (IsEncrypted: true); the local host reads plain settings only');
  }
  const values: Record<string, string> = {};
  if (Values && typeof Values === 'object') {
    for (const [key, value] of Object.entries(Values)) {
      if (value !== null && value !== undefined) values[key] = String(value);
    }
  }
  const port = Host && typeof Host === 'object' ? (Host as { LocalHttpPort?: unknown }).LocalHttpPort : undefined;
  const localHttpPort = port === undefined || port === null || port === '' ? undefined : Number(port);
  if (
    localHttpPort !== undefined &&
    !(Number.isInteger(localHttpPort) && localHttpPort >= 0 && localHttpPort < 65536)
  ) {
    throw new Error(`local.settings.json Host.LocalHttpPort is not a port: ${JSON.stringify(port)}`);
  }
  return { values, localHttpPort };
}

/**
 * The settings to write into the environment: a variable already set wins, then the caller's `env`,
 * then local.settings.json `Values` (Core Tools never overrides what the shell exported).
 */
export function settingsToApply(
  current: Readonly<Record<string, string | undefined>>,
  layers: ReadonlyArray<Readonly<Record<string, string>> | undefined>,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer ?? {})) {
      if (current[key] === undefined && !(key in result)) result[key] = value;
    }
  }
  return result;
}

/** Writes settings into `env` and returns how to take exactly those back out. */
export function applySettings(env: Record<string, string | undefined>, settings: Record<string, string>): () => void {
  const applied = Object.keys(settings).filter((key) => env[key] === undefined);
  for (const key of applied) env[key] = settings[key];
  return () => {
    for (const key of applied) {
      if (env[key] === settings[key]) delete env[key];
    }
  };
}

/**
 * Resolves `%NAME%` binding expressions from app settings, like the host's INameResolver:
 * a whole-string or embedded `%NAME%` becomes the setting's value; a missing setting is an error.
 */
export function resolveBindingExpression(text: string, settings: Readonly<Record<string, string | undefined>>): string {
  return text.replace(/%([^%]+)%/g, (_whole, name: string) => {
    const value = settings[name];
    if (value === undefined) throw new Error(`'%${name}%' does not resolve to a value (no app setting "${name}")`);
    return value;
  });
}

/** A setting the host reads as a boolean ("true"/"1"), e.g. `AzureWebJobs.<name>.Disabled`. */
export function isSettingTrue(value: string | undefined): boolean {
  return value !== undefined && ['true', '1'].includes(value.trim().toLowerCase());
}
