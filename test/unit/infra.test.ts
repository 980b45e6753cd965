/**
 * Consistency of the deployment (infra/*.bicep, azure.yaml, docs/deploy.md) with the code and host.json.
 * There is no Bicep compiler on the build machines, so the Bicep is read as text by a small scanner that
 * blanks out strings and comments first: braces, colons and keywords are then only ever real syntax.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { DEFAULTS, SECRET_SETTINGS, SETTING_NAMES, loadConfig } from '../../shared/platform/config';
import { workTableName } from '../../shared/storage/table-store';
import { HOST_REQUEST_BODY_LIMIT_BYTES, MAX_BATCH_BODY_BYTES } from '../../shared/http/json-body';
import { DEFAULT_PACKAGE_DIR } from '../../scripts/package';

type SettingName = (typeof SETTING_NAMES)[number];

const root = join(__dirname, '..', '..');
const read = (file: string): string => readFileSync(join(root, file), 'utf8');

/**
 * Settings the code reads that the Bicep deliberately does not set. docs/deploy.md lists the same names
 * (the test compares both ways), so adding a setting to SETTING_NAMES fails here until the infra sets it
 * or it is added to this list with its reason, and to the doc.
 */
const NOT_SET_IN_AZURE: Partial<Record<SettingName, string>> = {
  AzureWebJobsStorage:
    'storage is reached with the managed identity (AzureWebJobsStorage__*); shared keys are disabled, so no connection string exists',
  GRAPH_CLIENT_CERTIFICATE_PATH:
    'certificate credentials are a manual option: Flex cannot load certificates into the app (docs/deploy.md)',
  GRAPH_BASE_URL: 'the code defaults to the public cloud, https://graph.microsoft.com',
  GRAPH_AUTHORITY_HOST: 'the code defaults to the public cloud, https://login.microsoftonline.com',
  NODE_EXTRA_CA_CERTS: "local only: makes Node trust the development simulator's certificate authority",
  OPERATION_CHECK_MIN_SECONDS:
    "the code's default follows Microsoft's 30 s between operation checks; lower it only for tests",
  LOG_LEVEL: 'the code defaults to info (state changes and problems); set debug by hand to investigate',
};

/** Settings the Bicep sets that the code does not read: the Functions host and App Insights read them. */
const HOST_SETTINGS = [
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
  'AzureWebJobsStorage__blobServiceUri',
  'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT',
];

/** Settings that Flex Consumption rejects or ignores (runtime and scale live in functionAppConfig). */
const NOT_ON_FLEX = [
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_EXTENSION_VERSION',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_LOAD_CERTIFICATES',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'ENABLE_ORYX_BUILD',
];

/** Azure built-in role definition ids, from the Azure built-in roles reference (same in every subscription). */
const KNOWN_ROLES: Record<string, string> = {
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88': 'Storage Queue Data Contributor',
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3': 'Storage Table Data Contributor',
  '4633458b-17de-408a-b874-0445c86b69e6': 'Key Vault Secrets User',
  'b86a8fe4-44ce-4948-aee5-eccb2c155cd7': 'Key Vault Secrets Officer',
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher',
};
/** Roles the app must never get: control-plane roles, and Storage Account Contributor (it lists the account keys). */
const FORBIDDEN_ROLES: Record<string, string> = {
  '17d1049b-9a84-46fb-8f53-869881c3d3ab': 'Storage Account Contributor',
  'b24988ac-6180-42a0-ab88-20f7382dd24c': 'Contributor',
  '8e3af657-a8ff-443c-a75c-2fe8c4bcb635': 'Owner',
};

/** Values Azure fills in at deployment (resource ids, endpoints), used to run loadConfig on the settings. */
const RUNTIME_VALUES: Record<string, string> = {
  AzureWebJobsStorage__accountName: 'stexample',
  AzureWebJobsStorage__clientId: '00000000-0000-0000-0000-0000000000c1',
  AzureWebJobsStorage__blobServiceUri: 'https://stexample.blob.core.windows.net/',
  AzureWebJobsStorage__queueServiceUri: 'https://stexample.queue.core.windows.net/',
  AzureWebJobsStorage__tableServiceUri: 'https://stexample.table.core.windows.net/',
  APPLICATIONINSIGHTS_CONNECTION_STRING:
    'InstrumentationKey=00000000-0000-0000-0000-000000000a11;IngestionEndpoint=https://example.in.applicationinsights.azure.com/',
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=00000000-0000-0000-0000-0000000000c1;Authorization=AAD',
  GRAPH_TENANT_ID: '00000000-0000-0000-0000-00000000007e',
  GRAPH_CLIENT_ID: '00000000-0000-0000-0000-0000000000c1',
};

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const GUIDS = new RegExp(GUID.source, 'gi');
const KEY_VAULT_REFERENCE = /^'@Microsoft\.KeyVault\(SecretUri=\$\{[A-Za-z_][A-Za-z0-9_]*\}\)'$/;

// ---------------------------------------------------------------------------------------------
// A small Bicep reader.
// ---------------------------------------------------------------------------------------------

/**
 * The source with comments and the insides of string literals (interpolations included) replaced by
 * spaces; quotes and line breaks stay, so offsets and line numbers match the original.
 */
function maskBicep(src: string): string {
  const out = src.split('');
  // Each entry is an open string; its number is the brace depth of the interpolation we are in (-1: in the string itself).
  const strings: number[] = [];
  let i = 0;
  const blank = (at: number) => {
    if (out[at] !== '\n') out[at] = ' ';
  };
  while (i < src.length) {
    const c = src[i];
    const top = strings.length > 0 ? strings[strings.length - 1] : undefined;
    const inString = top === -1;
    const masking = strings.length > 0;
    if (inString) {
      if (c === '\\') {
        blank(i);
        blank(i + 1);
        i += 2;
      } else if (c === "'") {
        strings.pop();
        if (strings.length > 0) blank(i);
        i += 1;
      } else if (c === '$' && src[i + 1] === '{') {
        strings[strings.length - 1] = 0;
        blank(i);
        blank(i + 1);
        i += 2;
      } else {
        blank(i);
        i += 1;
      }
      continue;
    }
    // Code: top level, or inside an interpolation (then everything is masked as part of the string).
    if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') blank(i++);
    } else if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      while (i < stop) blank(i++);
    } else if (c === "'") {
      if (masking) blank(i);
      strings.push(-1);
      i += 1;
    } else {
      if (top !== undefined && top >= 0) {
        if (c === '{') strings[strings.length - 1] = top + 1;
        else if (c === '}') strings[strings.length - 1] = top === 0 ? -1 : top - 1;
      }
      if (masking) blank(i);
      i += 1;
    }
  }
  if (strings.length > 0) throw new Error('unterminated string in Bicep source');
  return out.join('');
}

const OPEN_TO_CLOSE: Record<string, string> = { '(': ')', '{': '}', '[': ']' };

/** Index of the bracket closing the one at `open` (in masked text). */
function closing(masked: string, open: number): number {
  const stack: string[] = [];
  for (let i = open; i < masked.length; i++) {
    const c = masked[i] as string;
    if (c in OPEN_TO_CLOSE) stack.push(OPEN_TO_CLOSE[c] as string);
    else if (c === ')' || c === '}' || c === ']') {
      if (stack.pop() !== c) throw new Error(`unbalanced '${c}' at offset ${i}`);
      if (stack.length === 0) return i;
    }
  }
  throw new Error(`no closing bracket for offset ${open}`);
}

interface Entry {
  key: string;
  /** The value expression as written, without a trailing comment. */
  value: string;
}

/** `key: value` entries of every object literal between `from` and `to`, nested ones included, one per line. */
function objectEntries(src: string, masked: string, from: number, to: number): Entry[] {
  const entries: Entry[] = [];
  const lineStarts = [from];
  for (let i = from; i < to; i++) if (masked[i] === '\n') lineStarts.push(i + 1);
  for (const start of lineStarts) {
    const newline = masked.indexOf('\n', start);
    const line = masked.slice(start, Math.min(newline < 0 ? masked.length : newline, to));
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*\S/.exec(line);
    if (!match) continue;
    // The value ends where the code on the line ends (a trailing comment is blank in `masked`). A value
    // that opens an object or array is kept as just its bracket; its entries are read on their own lines.
    const value = src.slice(start + match[0].length - 1, start + line.trimEnd().length);
    entries.push({ key: match[1] as string, value });
  }
  return entries;
}

/**
 * The bracket that ends the first match of `header` (a regex on the source, ending at a `{`, `(` or `[`)
 * that is code, not part of a string or comment.
 */
function openingAfter(src: string, masked: string, header: RegExp, from = 0): number | undefined {
  const pattern = new RegExp(header.source, header.flags.includes('g') ? header.flags : `${header.flags}g`);
  pattern.lastIndex = from;
  for (let m = pattern.exec(src); m; m = pattern.exec(src)) {
    const open = m.index + m[0].length - 1;
    if ((src[open] as string) in OPEN_TO_CLOSE && masked[open] === src[open]) return open;
    if (m[0].length === 0) pattern.lastIndex += 1;
  }
  return undefined;
}

interface Block {
  /** Every `key: value` line inside, nested objects included. */
  all: Entry[];
  /** Only the lines directly inside the bracket. */
  top: Entry[];
}

function blockAt(src: string, masked: string, open: number): Block {
  const close = closing(masked, open);
  const top: Entry[] = [];
  let depth = 0;
  let lineStart = open + 1;
  for (let i = open + 1; i <= close; i++) {
    const c = masked[i];
    if (c === '\n' || i === close) {
      if (depth === 0) top.push(...objectEntries(src, masked, lineStart, i));
      lineStart = i + 1;
    }
    if (c === '{' || c === '[' || c === '(') depth += 1;
    if (c === '}' || c === ']' || c === ')') depth -= 1;
  }
  return { all: objectEntries(src, masked, open + 1, close), top };
}

/** The block that follows the first match of `header`. */
function block(src: string, header: RegExp): Block {
  const masked = maskBicep(src);
  const open = openingAfter(src, masked, header);
  if (open === undefined) throw new Error(`not found: ${header}`);
  return blockAt(src, masked, open);
}

/** Every `key: value` entry of the block after `header`, nested ones included. */
function entriesAfter(src: string, header: RegExp): Entry[] {
  return block(src, header).all;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** The body of every resource declaration of `type` (any API version, conditional or not). */
function resources(src: string, type: string): Block[] {
  const masked = maskBicep(src);
  const header = new RegExp(
    `^resource \\w+ '${escapeRegExp(type)}@[^']*'(?: existing)? = (?:if \\([^\\n]*\\) )?\\{`,
    'gm',
  );
  const blocks: Block[] = [];
  for (
    let open = openingAfter(src, masked, header);
    open !== undefined;
    open = openingAfter(src, masked, header, open + 1)
  ) {
    blocks.push(blockAt(src, masked, open));
  }
  return blocks;
}

const asObject = (entries: Entry[]): Record<string, string> => Object.fromEntries(entries.map((e) => [e.key, e.value]));

interface Param {
  name: string;
  type: string;
  default?: string;
  secure: boolean;
}

function bicepParams(src: string): Map<string, Param> {
  const masked = maskBicep(src);
  const params = new Map<string, Param>();
  const pattern = /((?:@\w+\([^)]*\)\s*)*)^param\s+(\w+)\s+(\w+)(?:[ \t]*=[ \t]*([^\n]+))?/gm;
  for (let m = pattern.exec(masked); m; m = pattern.exec(masked)) {
    const decorators = m[1] ?? '';
    const name = m[2] as string;
    let defaultValue: string | undefined;
    if (m[4] !== undefined) {
      const at = m.index + m[0].length - m[4].length;
      defaultValue = src.slice(at, at + m[4].trimEnd().length);
    }
    params.set(name, { name, type: m[3] as string, default: defaultValue, secure: /@secure\(/.test(decorators) });
  }
  return params;
}

function bicepVars(src: string): Map<string, string> {
  const masked = maskBicep(src);
  const vars = new Map<string, string>();
  const pattern = /^var\s+(\w+)\s*=\s*([^\n]+)/gm;
  for (let m = pattern.exec(masked); m; m = pattern.exec(masked)) {
    const at = m.index + m[0].length - (m[2] as string).length;
    vars.set(m[1] as string, src.slice(at, at + (m[2] as string).trimEnd().length));
  }
  return vars;
}

/** The text of a plain string literal (no interpolation), or undefined. */
function literal(expression: string): string | undefined {
  const m = /^'((?:[^'\\$]|\\.|\$(?!\{))*)'$/.exec(expression.trim());
  return m ? (m[1] as string).replace(/\\(.)/g, '$1') : undefined;
}

// ---------------------------------------------------------------------------------------------
// The files.
// ---------------------------------------------------------------------------------------------

const bicepFiles = [
  'infra/main.bicep',
  ...readdirSync(join(root, 'infra', 'app'))
    .filter((f) => f.endsWith('.bicep'))
    .map((f) => `infra/app/${f}`),
];
const bicep = Object.fromEntries(bicepFiles.map((f) => [f, read(f)])) as Record<string, string>;
const source = (file: string): string => {
  const text = bicep[file];
  if (text === undefined) throw new Error(`missing ${file}`);
  return text;
};

const main = source('infra/main.bicep');
const api = source('infra/app/api.bicep');
const storage = source('infra/app/storage.bicep');
const rbac = source('infra/app/rbac.bicep');
const keyVault = source('infra/app/keyvault.bicep');

const mainParams = bicepParams(main);
const mainVars = bicepVars(main);
const apiParams = bicepParams(api);
const appSettings = entriesAfter(api, /^var appSettings = union\(/m);
const settingKeys = appSettings.map((e) => e.key);
const moduleParams = (name: string): Map<string, string> =>
  new Map(
    block(main, new RegExp(`^module ${name} '[^']*' = \\{[\\s\\S]*?^ {2}params: \\{`, 'm')).top.map((e) => [
      e.key,
      e.value,
    ]),
  );
const apiModule = moduleParams('api');
const hostJson = JSON.parse(read('host.json')) as Record<string, unknown>;
const parameters = (JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, { value: string }> })
  .parameters;
const deployDoc = read('docs/deploy.md');

const mainDefault = (name: string): string => {
  const p = mainParams.get(name);
  if (p?.default === undefined) throw new Error(`main.bicep: param ${name} has no default`);
  return literal(p.default) ?? p.default;
};

/** The value an app setting gets with every parameter at its default, or undefined if Azure decides it. */
function resolveSetting(expression: string): string | undefined {
  const text = literal(expression);
  if (text !== undefined) return text;
  const call = /^string\((\w+)\)$/.exec(expression);
  const name = call ? (call[1] as string) : /^\w+$/.test(expression) ? expression : undefined;
  if (name === undefined || !apiParams.has(name)) return undefined;
  const passed = apiModule.get(name);
  if (passed === undefined) return undefined;
  const fromMain = literal(passed) ?? (mainVars.has(passed) ? literal(mainVars.get(passed) as string) : undefined);
  if (fromMain !== undefined) return fromMain;
  return mainParams.get(passed)?.default !== undefined ? mainDefault(passed) : undefined;
}

function valueAtPath(json: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], json);
}

/** Rows of the first table under the heading `heading` in a markdown document. */
function tableUnder(markdown: string, heading: string): string[][] {
  const lines = markdown.split('\n');
  const at = lines.findIndex((l) => l.trim() === heading);
  if (at < 0) throw new Error(`docs/deploy.md has no heading "${heading}"`);
  const level = /^#+/.exec(heading)?.[0].length ?? 2;
  const rows: string[][] = [];
  for (const line of lines.slice(at + 1)) {
    const h = /^(#+)\s/.exec(line);
    if (h && (h[1] as string).length <= level) break;
    if (!line.trim().startsWith('|')) {
      if (rows.length > 0) break;
      continue;
    }
    const cells = line
      .trim()
      .replace(/^\||\|$/g, '')
      .split('|')
      .map((c) => c.trim());
    if (cells.every((c) => /^:?-+:?$/.test(c))) continue;
    rows.push(cells);
  }
  return rows.slice(1); // without the header row
}

const code = (cell: string | undefined): string | undefined => /^`([^`]+)`/.exec(cell ?? '')?.[1];

// ---------------------------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------------------------

describe('the Bicep reader', () => {
  it('ignores braces, colons and quotes inside strings, interpolations and comments', () => {
    // Prepare
    const src = [
      "var x = union({ // a { comment: 'no'",
      "  A: 'a: {b}' /* B: 'no' */",
      "  B: '${take('}{', 1)}-${y}' // C: not an entry",
      "  C: 'it\\'s'",
      '}, c ? {} : {',
      '  D: e',
      '})',
    ].join('\n');
    // Act
    const entries = entriesAfter(src, /^var x = union\(/m);
    // Assess
    expect(entries).toEqual([
      { key: 'A', value: "'a: {b}'" },
      { key: 'B', value: "'${take('}{', 1)}-${y}'" },
      { key: 'C', value: "'it\\'s'" },
      { key: 'D', value: 'e' },
    ]);
    expect(maskBicep(src)).toHaveLength(src.length);
  });

  it('reads params with their decorators and defaults', () => {
    const src =
      "@secure()\n@description('a (b)')\nparam s string = ''\n@allowed([\n  1\n])\nparam n int = 1 // one\nparam r string";
    const params = bicepParams(src);
    expect(params.get('s')).toEqual({ name: 's', type: 'string', default: "''", secure: true });
    expect(params.get('n')).toEqual({ name: 'n', type: 'int', default: '1', secure: false });
    expect(params.get('r')).toEqual({ name: 'r', type: 'string', default: undefined, secure: false });
  });
});

describe('app settings against shared/platform/config.ts', () => {
  it('sets every setting loadConfig reads, or lists it as deliberately not set', () => {
    const missing = SETTING_NAMES.filter((n) => !settingKeys.includes(n) && !(n in NOT_SET_IN_AZURE));
    const both = SETTING_NAMES.filter((n) => settingKeys.includes(n) && n in NOT_SET_IN_AZURE);
    expect({ missing, both }).toEqual({ missing: [], both: [] });
  });

  it('lists only real settings as not set', () => {
    expect(Object.keys(NOT_SET_IN_AZURE).filter((n) => !(SETTING_NAMES as readonly string[]).includes(n))).toEqual([]);
  });

  it('sets nothing that neither the code nor the host reads', () => {
    const unknown = settingKeys.filter(
      (k) => !(SETTING_NAMES as readonly string[]).includes(k) && !HOST_SETTINGS.includes(k),
    );
    expect(unknown).toEqual([]);
    expect(HOST_SETTINGS.filter((k) => !settingKeys.includes(k))).toEqual([]);
  });

  it('lets the host refuse bodies larger than intake takes (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT), with headroom', () => {
    const limit = appSettings.find((e) => e.key === 'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT');
    expect(literal(limit?.value ?? '')).toBe(String(HOST_REQUEST_BODY_LIMIT_BYTES));
    expect(HOST_REQUEST_BODY_LIMIT_BYTES).toBeGreaterThan(MAX_BATCH_BODY_BYTES);
    // The local run and Core Tools get the same limit.
    const sample = JSON.parse(read('local.settings.sample.json')) as { Values: Record<string, string> };
    expect(sample.Values.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT).toBe(String(HOST_REQUEST_BODY_LIMIT_BYTES));
  });

  it('sets each setting once and none that Flex Consumption rejects', () => {
    expect(settingKeys.filter((k, i) => settingKeys.indexOf(k) !== i)).toEqual([]);
    expect(settingKeys.filter((k) => NOT_ON_FLEX.includes(k))).toEqual([]);
  });

  it('gives secrets only as Key Vault references', () => {
    const secretLike = appSettings.filter(
      (e) => (SECRET_SETTINGS as readonly string[]).includes(e.key) || /SECRET|KEY|PASSWORD/i.test(e.key),
    );
    expect(secretLike.map((e) => e.key)).toEqual(
      expect.arrayContaining(['GRAPH_CLIENT_SECRET', 'WEBHOOK_SIGNING_SECRET', 'CALLBACK_SIGNING_SECRET']),
    );
    for (const { key, value } of secretLike) {
      if (key === 'APPLICATIONINSIGHTS_CONNECTION_STRING') {
        // Taken from the App Insights resource, not a parameter: it identifies the resource, and with local
        // auth disabled it cannot send telemetry without the identity's Entra token.
        expect(value).toBe('appInsights.properties.ConnectionString');
      } else {
        expect({ key, value }).toEqual({ key, value: expect.stringMatching(KEY_VAULT_REFERENCE) });
      }
    }
  });

  it('never passes a @secure parameter to an app setting or an output', () => {
    for (const [file, src] of Object.entries(bicep)) {
      const secure = [...bicepParams(src).values()].filter((p) => p.secure).map((p) => p.name);
      const masked = maskBicep(src);
      const outputs = masked.split('\n').filter((l) => /^output\s/.test(l));
      for (const name of secure) {
        const used = new RegExp(`\\b${name}\\b`);
        // Outputs may only test whether a secret was given.
        expect({ file, name, outputs: outputs.filter((l) => used.test(l.replace(/empty\(\w+\)/g, ''))) }).toEqual({
          file,
          name,
          outputs: [],
        });
      }
      if (file === 'infra/app/api.bicep') expect(secure).toEqual([]);
    }
    const mainSecure = [...mainParams.values()].filter((p) => p.secure).map((p) => p.name);
    for (const { key, value } of appSettings) {
      const leaked = mainSecure.filter((name) => new RegExp(`\\b${name}\\b`).test(value));
      expect({ key, leaked }).toEqual({ key, leaked: [] });
    }
  });

  it('hands secrets only to @secure module parameters, and stores them only from @secure parameters', () => {
    const vaultParams = bicepParams(keyVault);
    for (const [param, value] of moduleParams('keyVault')) {
      if (mainParams.get(value)?.secure)
        expect({ param, secure: vaultParams.get(param)?.secure }).toEqual({ param, secure: true });
    }
    const stored = resources(keyVault, 'Microsoft.KeyVault/vaults/secrets').map((r) => asObject(r.all).value);
    expect(stored.length).toBe(3);
    for (const value of stored)
      expect({ value, secure: vaultParams.get(value ?? '')?.secure }).toEqual({ value, secure: true });
  });

  it('uses no storage account key anywhere', () => {
    for (const [file, src] of Object.entries(bicep)) {
      expect({ file, keys: /listKeys\(|listConnectionStrings|AccountKey=/.test(src) }).toEqual({ file, keys: false });
    }
  });

  it('produces settings that loadConfig accepts, with the code defaults', () => {
    // Prepare: every setting at its Bicep default; Azure-filled values from RUNTIME_VALUES; secrets are optional.
    const env: Record<string, string> = {};
    const unresolved: string[] = [];
    for (const { key, value } of appSettings) {
      if (KEY_VAULT_REFERENCE.test(value)) continue;
      const resolved = resolveSetting(value) ?? RUNTIME_VALUES[key];
      if (resolved === undefined) unresolved.push(`${key}: ${value}`);
      else env[key] = resolved;
    }
    expect(unresolved).toEqual([]);
    // Act
    const config = loadConfig(env);
    // Assess
    expect(config.storage).toMatchObject({ kind: 'identity', clientId: RUNTIME_VALUES.AzureWebJobsStorage__clientId });
    expect(config.graph.credential).toMatchObject({ kind: 'managedIdentity' });
    expect(config.queueName).toBe(DEFAULTS.CHAT_REQUESTS_QUEUE);
    expect(config.tableName).toBe(DEFAULTS.CHAT_REQUESTS_TABLE);
    expect(config.graph.maxRps).toBe(DEFAULTS.GRAPH_MAX_RPS);
    expect(config.newUserGraceMinutes).toBe(DEFAULTS.NEW_USER_GRACE_MINUTES);
    expect(config.operationDeadlineMinutes).toBe(DEFAULTS.OPERATION_DEADLINE_MINUTES);
    expect(config.pollSchedule).toBe(DEFAULTS.POLL_SCHEDULE);
    expect(config.callback.allowLocalhost).toBe(false);
  });
});

describe('queues and the table', () => {
  it('are named as the code names them', () => {
    expect(literal(mainVars.get('chatRequestsQueueName') ?? '')).toBe(DEFAULTS.CHAT_REQUESTS_QUEUE);
    expect(literal(mainVars.get('chatRequestsTableName') ?? '')).toBe(DEFAULTS.CHAT_REQUESTS_TABLE);
  });

  it('include the work table under the name the code derives, <table>Work', () => {
    const config = loadConfig({ AzureWebJobsStorage__accountName: 'stexample' });
    expect(bicepVars(storage).get('workTableName')).toBe("'${tableName}Work'");
    expect(workTableName(config.tableName)).toBe(`${config.tableName}Work`);
  });

  it('include the poison queue under the name the host and the code derive, <queue>-poison', () => {
    const config = loadConfig({ AzureWebJobsStorage__accountName: 'stexample' });
    expect(config.poisonQueueName).toBe(`${config.queueName}-poison`);
    expect(bicepVars(storage).get('poisonQueueName')).toBe("'${queueName}-poison'");
    const names = (type: string) => resources(storage, type).map((r) => asObject(r.top).name);
    expect(names('Microsoft.Storage/storageAccounts/queueServices/queues')).toEqual(['queueName', 'poisonQueueName']);
    expect(names('Microsoft.Storage/storageAccounts/tableServices/tables')).toEqual(['tableName', 'workTableName']);
    expect(names('Microsoft.Storage/storageAccounts/blobServices/containers')).toEqual(['deploymentContainerName']);
  });

  it('reach storage and the app settings from the same variables', () => {
    const storageModule = moduleParams('storage');
    expect(storageModule.get('queueName')).toBe('chatRequestsQueueName');
    expect(storageModule.get('tableName')).toBe('chatRequestsTableName');
    expect(apiModule.get('chatRequestsQueueName')).toBe('chatRequestsQueueName');
    expect(apiModule.get('chatRequestsTableName')).toBe('chatRequestsTableName');
    const settings = Object.fromEntries(appSettings.map((e) => [e.key, e.value]));
    expect(settings.CHAT_REQUESTS_QUEUE).toBe('chatRequestsQueueName');
    expect(settings.CHAT_REQUESTS_TABLE).toBe('chatRequestsTableName');
  });
});

describe('resources', () => {
  it('storage: no shared keys, no public blobs, TLS 1.2', () => {
    const [account] = resources(storage, 'Microsoft.Storage/storageAccounts');
    expect(asObject(block(storage, /^ {2}properties: \{/m).top)).toMatchObject({
      allowSharedKeyAccess: 'false',
      allowBlobPublicAccess: 'false',
      minimumTlsVersion: "'TLS1_2'",
      supportsHttpsTrafficOnly: 'true',
    });
    expect(asObject(account?.top ?? [])).toMatchObject({ kind: "'StorageV2'" });
  });

  it('function app: Flex Consumption FC1, Node 22, identity-based deployment and Key Vault references', () => {
    const [plan] = resources(api, 'Microsoft.Web/serverfarms');
    const [site] = resources(api, 'Microsoft.Web/sites');
    expect(asObject(plan?.top ?? [])).toMatchObject({ name: 'planName', kind: "'functionapp'" });
    expect(asObject(block(api, /^ {2}sku: \{/m).top)).toEqual({ tier: "'FlexConsumption'", name: "'FC1'" });
    expect(asObject(site?.top ?? [])).toMatchObject({ kind: "'functionapp,linux'" });
    expect(asObject(block(api, /^ {2}properties: \{(?=\n {4}serverFarmId)/m).top)).toMatchObject({
      serverFarmId: 'plan.id',
      httpsOnly: 'true',
      keyVaultReferenceIdentity: 'identityId',
    });
    expect(asObject(block(api, /authentication: \{/).top)).toEqual({
      type: "'UserAssignedIdentity'",
      userAssignedIdentityResourceId: 'identityId',
    });
    expect(asObject(block(api, /scaleAndConcurrency: \{/).top)).toEqual({
      maximumInstanceCount: 'maximumInstanceCount',
      instanceMemoryMB: 'instanceMemoryMB',
    });
    expect(asObject(block(api, /runtime: \{/).top)).toEqual({ name: "'node'", version: "'22'" });
  });

  it('Node versions agree: Azure runs a Node the engines allow, and so does this machine (CI)', () => {
    const manifest = JSON.parse(read('package.json')) as {
      engines: { node: string };
      devDependencies: Record<string, string>;
    };
    // "^20.19.0 || ^22.0.0": each alternative a caret range, so its major is the version line.
    const ranges = manifest.engines.node.split('||').map((r) => /^\^(\d+)\.(\d+)\.(\d+)$/.exec(r.trim()));
    expect(ranges.every((r) => r !== null)).toBe(true);
    const majors = ranges.map((r) => Number((r as RegExpExecArray)[1]));
    const runtime = literal(asObject(block(api, /runtime: \{/).top).version ?? '');
    expect(majors).toContain(Number(runtime));
    // Azure runs the newest line the engines allow; the docs say which.
    expect(Number(runtime)).toBe(Math.max(...majors));
    expect(deployDoc).toContain(`Node.js ${runtime}`);
    expect(deployDoc).toContain(`\`${manifest.engines.node}\``);
    // The Node running this test (CI's, a developer's) is one the engines allow.
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
    const own = ranges.find((r) => Number((r as RegExpExecArray)[1]) === major) as RegExpExecArray | undefined;
    expect({ node: process.versions.node, allowed: own !== undefined && minor >= Number(own[2]) }).toEqual({
      node: process.versions.node,
      allowed: true,
    });
    // Type definitions of the oldest allowed line, so the code uses nothing newer than it has.
    expect(Number(manifest.devDependencies['@types/node']?.split('.')[0])).toBe(Math.min(...majors));
  });

  it('Key Vault: RBAC mode with purge protection', () => {
    const [vault] = resources(keyVault, 'Microsoft.KeyVault/vaults');
    expect(asObject(vault?.all ?? [])).toMatchObject({
      enableRbacAuthorization: 'true',
      enablePurgeProtection: 'true',
      enableSoftDelete: 'true',
    });
  });

  it('main.bicep outputs the app name, host name, API base URL and the identity ids', () => {
    const outputs = [...maskBicep(main).matchAll(/^output (\w+) string = (.+)$/gm)].map((m) => m[1]);
    expect(outputs).toEqual(
      expect.arrayContaining([
        'AZURE_FUNCTION_APP_NAME',
        'AZURE_FUNCTION_APP_HOSTNAME',
        'AZURE_FUNCTION_API_BASE_URL',
        'API_IDENTITY_CLIENT_ID',
        'API_IDENTITY_PRINCIPAL_ID',
      ]),
    );
  });

  it('builds the API base URL from the route prefix in host.json', () => {
    const expression = bicepVars(api).get('routePrefix') ?? '';
    const m = /loadJsonContent\('([^']+)', '\$\.([^']+)'\)/.exec(expression);
    expect(m).not.toBeNull();
    const file = join(root, 'infra', 'app', (m as RegExpExecArray)[1] as string);
    expect(relative(root, file)).toBe('host.json');
    expect(valueAtPath(hostJson, (m as RegExpExecArray)[2] as string)).toBe('api');
    expect(api).toContain("'https://${site.properties.defaultHostName}/${routePrefix}'");
  });
});

describe('role assignments', () => {
  const roles = entriesAfter(rbac, /^var roles = \{/m);
  const roleLines = rbac.split('\n').filter((l) => GUID.test(l));

  it('use only documented built-in role ids, each named in its comment', () => {
    expect(roles.length).toBeGreaterThan(0);
    for (const line of roleLines) {
      const id = (line.match(GUID) ?? [])[0] as string;
      expect({ id, known: KNOWN_ROLES[id] }).toEqual({ id, known: expect.any(String) });
      expect(line).toContain(`// ${KNOWN_ROLES[id]}`);
    }
  });

  it('keeps every role id and assignment in rbac.bicep', () => {
    for (const [file, src] of Object.entries(bicep)) {
      if (file === 'infra/app/rbac.bicep') continue;
      expect({ file, guids: src.match(GUIDS) ?? [] }).toEqual({ file, guids: [] });
      expect({ file, assigns: src.includes('Microsoft.Authorization/roleAssignments') }).toEqual({
        file,
        assigns: false,
      });
    }
  });

  it('grant the app identity blob owner, queue and table contributor, secrets user and metrics publisher; nothing broader', () => {
    const idOf = (key: string) => literal(roles.find((r) => r.key === key)?.value ?? '') ?? '';
    const name = (key: string) => KNOWN_ROLES[idOf(key)];
    const storageRoles = (/var storageDataRoles = \[([^\]]*)\]/.exec(rbac)?.[1] ?? '').match(/roles\.(\w+)/g) ?? [];
    expect(storageRoles.map((r) => name(r.replace('roles.', '')))).toEqual([
      'Storage Blob Data Owner',
      'Storage Queue Data Contributor',
      'Storage Table Data Contributor',
    ]);
    expect(rbac).toMatch(/for roleId in storageDataRoles: \{\n\s+name: guid\(storage\.id, appPrincipalId, roleId\)/);
    expect(rbac).toMatch(/guid\(vault\.id, appPrincipalId, roles\.keyVaultSecretsUser\)/);
    expect(rbac).toMatch(/guid\(appInsights\.id, appPrincipalId, roles\.monitoringMetricsPublisher\)/);
    for (const [id, role] of Object.entries(FORBIDDEN_ROLES)) {
      for (const [file, src] of Object.entries(bicep))
        expect({ file, role, found: src.includes(id) }).toEqual({ file, role, found: false });
    }
  });
});

describe('azd files', () => {
  it('main.parameters.json maps only real parameters and every required one', () => {
    const names = Object.keys(parameters);
    expect(names.filter((n) => !mainParams.has(n))).toEqual([]);
    const required = [...mainParams.values()].filter((p) => p.default === undefined).map((p) => p.name);
    expect(required.filter((n) => !names.includes(n))).toEqual([]);
  });

  it('main.parameters.json falls back to the Bicep defaults', () => {
    for (const [name, { value }] of Object.entries(parameters)) {
      const fallback = /^\$\{\w+=(.*)\}$/.exec(value)?.[1];
      if (fallback !== undefined) expect({ name, fallback }).toEqual({ name, fallback: mainDefault(name) });
    }
  });

  it('azure.yaml deploys the built package as the TypeScript function service "api" and prints the consent step', () => {
    const yaml = read('azure.yaml');
    expect(yaml).toMatch(/^services:\n {2}api:\n(?: {4}.*\n)*? {4}project: \.\n/m);
    expect(yaml).toMatch(/^ {4}language: ts$/m);
    expect(yaml).toMatch(/^ {4}host: function$/m);
    // The package npm run package builds (test/integration/package.test.ts runs it), uploaded as built.
    expect(yaml).toMatch(new RegExp(`^ {4}dist: ${DEFAULT_PACKAGE_DIR.replace(/\./g, '\\.')}$`, 'm'));
    expect(yaml).toMatch(/^ {4}remoteBuild: false$/m);
    const packaging = /^ {4}hooks:\n {6}prepackage:\n((?: {8}.*\n)+)/m.exec(yaml)?.[1] ?? '';
    expect([...packaging.matchAll(/run: (.+)/g)].map((m) => m[1])).toEqual(['npm run package', 'npm run package']);
    const manifest = JSON.parse(read('package.json')) as { scripts: Record<string, string>; main: string };
    expect(manifest.scripts.package).toMatch(/node dist\/scripts\/package\.js$/);
    expect(manifest.main).toBe('dist/functions/*.js');
    expect(yaml).toMatch(/^hooks:\n(?: {2}#.*\n)* {2}postprovision:/m);
    expect(api).toContain("'azd-service-name': 'api'");
    const projectHooks = yaml.slice(yaml.search(/^hooks:/m));
    const hooks = [...projectHooks.matchAll(/run: (\S+)/g)].map((m) => (m[1] as string).replace(/^\.\//, ''));
    expect(hooks).toEqual(['infra/hooks/postprovision.sh', 'infra/hooks/postprovision.ps1']);
    for (const hook of hooks) {
      expect(existsSync(join(root, hook))).toBe(true);
      // The hook prints commands; it must not be able to print a secret.
      expect({ hook, secrets: read(hook).match(/(\$\{?|\$env:)(GRAPH_CLIENT_SECRET|\w*SIGNING_SECRET)/g) }).toEqual({
        hook,
        secrets: null,
      });
    }
    expect(dirname(hooks[0] as string)).toBe('infra/hooks');
  });

  it('the hooks print grants for every permission the service uses, as docs/deploy.md does', () => {
    const permissions = ['Chat.Create', 'Chat.ReadBasic.All', 'User.ReadBasic.All'];
    const loops = [
      ...[...read('infra/hooks/postprovision.sh').matchAll(/for PERMISSION in ([^;]+);/g)].map((m) => m[1]!.split(' ')),
      ...[...read('infra/hooks/postprovision.ps1').matchAll(/foreach \(`\$permission in ([^)]+)\)/g)].map((m) =>
        m[1]!.split(',').map((p) => p.trim().replace(/'/g, '')),
      ),
      ...[...deployDoc.matchAll(/for PERMISSION in ([^;]+);/g)].map((m) => m[1]!.split(' ')),
      ...[...deployDoc.matchAll(/foreach \(\$permission in ([^)]+)\)/g)].map((m) =>
        m[1]!.split(',').map((p) => p.trim().replace(/'/g, '')),
      ),
    ];
    expect(loops.length).toBe(6);
    for (const loop of loops) expect(loop).toEqual(permissions);
  });
});

describe('parameters and outputs', () => {
  it('every module gets only parameters it declares, and every one it requires', () => {
    const modules = [...maskBicep(main).matchAll(/^module (\w+) '([^']*)' = \{/gm)].map((m) => ({
      name: m[1] as string,
      file: `infra/${main.slice((m.index as number) + m[0].indexOf("'") + 1).split("'")[0]}`,
    }));
    expect(modules.map((m) => m.name).sort()).toEqual(['api', 'identity', 'keyVault', 'monitoring', 'rbac', 'storage']);
    for (const { name, file } of modules) {
      const declared = bicepParams(source(file));
      const passed = [...moduleParams(name).keys()];
      const unknown = passed.filter((p) => !declared.has(p));
      const missing = [...declared.values()].filter((p) => p.default === undefined && !passed.includes(p.name));
      expect({ name, unknown, missing: missing.map((p) => p.name) }).toEqual({ name, unknown: [], missing: [] });
    }
  });

  it('every value the docs and hooks read from the azd environment is an output or an azd variable', () => {
    const outputs = [...maskBicep(main).matchAll(/^output (\w+) /gm)].map((m) => m[1] as string);
    // Set by azd itself, or mapped from the azd environment in main.parameters.json.
    const fromAzd = ['AZURE_ENV_NAME', 'AZURE_LOCATION', 'AZURE_SUBSCRIPTION_ID', 'AZURE_PRINCIPAL_ID'];
    const mapped = Object.values(parameters).flatMap((p) => [...p.value.matchAll(/\$\{(\w+)/g)].map((m) => m[1]));
    const known = new Set([...outputs, ...fromAzd, ...mapped]);
    const docs = ['README.md', ...readdirSync(join(root, 'docs')).map((f) => `docs/${f}`)];
    const read_ = docs.flatMap((f) => [...read(f).matchAll(/azd env get-value (\w+)/g)].map((m) => m[1] as string));
    expect(read_.length).toBeGreaterThan(3);
    const hooks = ['infra/hooks/postprovision.sh', 'infra/hooks/postprovision.ps1'].map(read);
    const local = new Set(
      hooks.flatMap((h) =>
        [...h.matchAll(/^\s*\$?(\w+)\s*=|\b(?:for|foreach)\s*\(?\$?(\w+) in/gm)].map((m) => m[1] ?? m[2]),
      ),
    );
    const used = hooks.flatMap((h) =>
      [...h.matchAll(/\$(?:env:|\{)?([A-Z][A-Z0-9_]{3,})/g)].map((m) => m[1] as string),
    );
    const unknown = [...new Set([...read_.filter((n) => n !== 'NAME'), ...used.filter((n) => !local.has(n))])].filter(
      (n) => !known.has(n),
    );
    expect(unknown).toEqual([]);
  });
});

describe('docs/deploy.md', () => {
  it('lists exactly the app settings the Bicep sets', () => {
    const documented = tableUnder(deployDoc, '## App settings').map((r) => code(r[0]));
    expect([...documented].sort()).toEqual([...settingKeys].sort());
  });

  it('lists exactly the settings left out in Azure', () => {
    const documented = tableUnder(deployDoc, '## Settings not set in Azure').map((r) => code(r[0]));
    expect([...documented].sort()).toEqual(Object.keys(NOT_SET_IN_AZURE).sort());
  });

  it('quotes host.json, main.bicep and the code defaults correctly', () => {
    const rows = tableUnder(deployDoc, '### The numbers');
    expect(rows.length).toBeGreaterThan(5);
    for (const row of rows) {
      const [setting, from, value] = [code(row[0]), code(row[1]), code(row[2])];
      let actual: unknown;
      if (from === 'host.json') actual = valueAtPath(hostJson, setting ?? '');
      else if (from === 'infra/main.bicep') actual = mainDefault(setting ?? '');
      else if (from === 'shared/platform/config.ts') actual = DEFAULTS[setting as keyof typeof DEFAULTS];
      else throw new Error(`unknown source ${from} for ${setting}`);
      expect({ setting, value }).toEqual({ setting, value: String(actual) });
    }
    const quoted = new Set(rows.map((r) => code(r[0])));
    for (const s of ['extensions.queues.batchSize', 'extensions.queues.newBatchThreshold', 'maximumInstanceCount']) {
      expect(quoted.has(s)).toBe(true);
    }
  });

  it('does the concurrency arithmetic with the deployed numbers', () => {
    const m =
      /`maximumInstanceCount × \(batchSize \+ newBatchThreshold\)`\s+=\s+(\d+) × \((\d+) \+ (\d+)\)\s+=\s+\*\*(\d+)\*\*/.exec(
        deployDoc,
      );
    expect(m).not.toBeNull();
    const [instances, batch, threshold, total] = (m as RegExpExecArray).slice(1).map(Number);
    expect(instances).toBe(Number(mainDefault('maximumInstanceCount')));
    expect(batch).toBe(valueAtPath(hostJson, 'extensions.queues.batchSize'));
    expect(threshold).toBe(valueAtPath(hostJson, 'extensions.queues.newBatchThreshold'));
    expect(total).toBe((instances as number) * ((batch as number) + (threshold as number)));
    const rate = /limiter starts at\s+`GRAPH_MAX_RPS` = (\d+(?:\.\d+)?) requests\/s/.exec(deployDoc)?.[1];
    expect(Number(rate)).toBe(DEFAULTS.GRAPH_MAX_RPS);
    expect(Number(mainDefault('graphMaxRps'))).toBe(DEFAULTS.GRAPH_MAX_RPS);
  });

  it('covers consent for both options, verification, rotation and the two-member group chat warning', () => {
    for (const needle of [
      'Chat.Create',
      'Chat.ReadBasic.All',
      'User.ReadBasic.All',
      '97235f07-e226-4f63-ace3-39588e11d3a1',
      'appRoleAssignedTo',
      'New-MgServicePrincipalAppRoleAssignment',
      'az ad app permission add',
      'az ad app permission admin-consent',
      "appRoles[?value=='Chat.Create'",
      'azd auth login',
      'azd up',
      '/api/health',
      'az functionapp keys list',
      'RosterAddMemberBlocked',
    ]) {
      expect({ needle, found: deployDoc.includes(needle) }).toEqual({ needle, found: true });
    }
  });
});
