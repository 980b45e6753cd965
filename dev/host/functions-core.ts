/**
 * A stand-in for `@azure/functions-core`, the module the real Node.js worker injects at runtime.
 *
 * `@azure/functions` (the `app.*` library) asks for this module lazily; when it finds it, `app.http(...)` etc.
 * register here instead of switching to "test mode". The shapes follow the worker's `types-core/index.d.ts`
 * (Azure/azure-functions-nodejs-worker); only the parts the library and the local host use are typed.
 */
import Module from 'node:module';

// #region core API types (subset of types-core/index.d.ts)
export type RpcLogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';
export type RpcLogCategory = 'user' | 'system' | 'customMetric';

export interface RpcBindingInfo {
  type?: string | null;
  direction?: 'in' | 'out' | 'inout' | null;
  dataType?: 'undefined' | 'string' | 'binary' | 'stream' | null;
  [property: string]: unknown;
}

export interface RpcDuration {
  seconds?: number | null;
  nanos?: number | null;
}

export interface RpcRetryOptions {
  maxRetryCount?: number | null;
  delayInterval?: RpcDuration | null;
  minimumInterval?: RpcDuration | null;
  maximumInterval?: RpcDuration | null;
  retryStrategy?: 'exponentialBackoff' | 'fixedDelay' | null;
}

export interface FunctionMetadata {
  name: string;
  functionId?: string;
  bindings: { [name: string]: RpcBindingInfo };
  retryOptions?: RpcRetryOptions;
}

export interface RpcNullableString {
  value?: string | null;
}

export interface RpcHttpCookie {
  name?: string | null;
  value?: string | null;
  domain?: RpcNullableString | null;
  path?: RpcNullableString | null;
  expires?: { value?: { seconds?: number | null; nanos?: number | null } | null } | null;
  secure?: { value?: boolean | null } | null;
  httpOnly?: { value?: boolean | null } | null;
  sameSite?: 'none' | 'lax' | 'strict' | 'explicitNone' | null;
  maxAge?: { value?: number | null } | null;
}

export interface RpcHttpData {
  method?: string | null;
  url?: string | null;
  headers?: { [k: string]: string } | null;
  body?: RpcTypedData | null;
  params?: { [k: string]: string } | null;
  statusCode?: string | null;
  query?: { [k: string]: string } | null;
  enableContentNegotiation?: boolean | null;
  rawBody?: RpcTypedData | null;
  cookies?: RpcHttpCookie[] | null;
  nullableHeaders?: { [k: string]: RpcNullableString } | null;
  nullableParams?: { [k: string]: RpcNullableString } | null;
  nullableQuery?: { [k: string]: RpcNullableString } | null;
}

export interface RpcTypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  stream?: Uint8Array | null;
  http?: RpcHttpData | null;
  int?: number | null;
  double?: number | null;
  collectionBytes?: { bytes?: Uint8Array[] | null } | null;
  collectionString?: { string?: string[] | null } | null;
  collectionDouble?: { double?: number[] | null } | null;
  collectionSint64?: { sint64?: number[] | null } | null;
}

export interface RpcParameterBinding {
  name?: string | null;
  data?: RpcTypedData | null;
}

export interface RpcRetryContext {
  retryCount?: number | null;
  maxRetryCount?: number | null;
  exception?: { source?: string | null; stackTrace?: string | null; message?: string | null } | null;
}

export interface RpcInvocationRequest {
  invocationId?: string | null;
  functionId?: string | null;
  inputData?: RpcParameterBinding[] | null;
  triggerMetadata?: { [k: string]: RpcTypedData } | null;
  traceContext?: { traceParent?: string | null; traceState?: string | null } | null;
  retryContext?: RpcRetryContext | null;
}

export interface RpcInvocationResponse {
  invocationId?: string | null;
  outputData?: RpcParameterBinding[] | null;
  returnValue?: RpcTypedData | null;
}

export interface RpcFunctionMetadata {
  name?: string | null;
  functionId?: string | null;
  directory?: string | null;
  scriptFile?: string | null;
  bindings?: { [k: string]: RpcBindingInfo } | null;
  rawBindings?: string[] | null;
  retryOptions?: RpcRetryOptions | null;
}

export type InvocationState = 'preInvocationHooks' | 'postInvocationHooks' | 'invocation';

export interface CoreInvocationContext {
  invocationId: string;
  request: RpcInvocationRequest;
  metadata: RpcFunctionMetadata;
  state?: InvocationState;
  log(level: RpcLogLevel, category: RpcLogCategory, message: string): void;
}

export type FunctionCallback = (...args: unknown[]) => unknown;

export interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], callback: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<RpcInvocationResponse>;
}

export interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreContext: CoreInvocationContext): InvocationModel | Promise<InvocationModel>;
  getCapabilities?(
    defaultCapabilities: Record<string, string>,
  ): Record<string, string> | Promise<Record<string, string>>;
}

export type HookName = 'appStart' | 'appTerminate' | 'preInvocation' | 'postInvocation' | 'log';
export type HookData = Record<string, unknown>;
export type HookCallback = (context: object) => unknown;
// #endregion

/** Releases a registration, as the worker's `Disposable` does. */
export class Disposable {
  static from(...disposables: { dispose: () => unknown }[]): Disposable {
    return new Disposable(() => disposables.forEach((d) => d.dispose()));
  }

  #callOnDispose?: () => unknown;

  constructor(callOnDispose: () => unknown) {
    this.#callOnDispose = callOnDispose;
  }

  dispose(): unknown {
    const callOnDispose = this.#callOnDispose;
    this.#callOnDispose = undefined;
    return callOnDispose?.();
  }
}

/** One `app.*(...)` registration, as the local host sees it. */
export interface RegisteredFunction {
  name: string;
  functionId: string;
  metadata: FunctionMetadata;
  callback: FunctionCallback;
  /** The entry point file that was loading when the function registered (undefined: registered later). */
  entryPoint?: string;
}

export interface CoreLogEntry {
  level: RpcLogLevel;
  category: RpcLogCategory;
  message: string;
}

/** What the local host reads back: everything the app registered through the core API. */
export const coreState = {
  functions: new Map<string, RegisteredFunction>(),
  hooks: {
    appStart: [] as HookCallback[],
    appTerminate: [] as HookCallback[],
    preInvocation: [] as HookCallback[],
    postInvocation: [] as HookCallback[],
    log: [] as HookCallback[],
  } satisfies Record<HookName, HookCallback[]>,
  programmingModel: undefined as ProgrammingModel | undefined,
  /** Shared by all hooks of the app, like the worker's `appHookData`. */
  appHookData: {} as HookData,
  /** Only for appStart/appTerminate hooks, like the worker's `appLevelOnlyHookData`. */
  appLevelOnlyHookData: {} as HookData,
  /** Set by the host while it requires an entry point, so registrations know where they came from. */
  currentEntryPoint: undefined as string | undefined,
  /** Where `log()` outside an invocation goes; the host replaces it. */
  logSink: ((entry: CoreLogEntry) => console.log(`[${entry.level}] ${entry.message}`)) as (entry: CoreLogEntry) => void,
  /** Set once the host has loaded the app; registering afterwards is an error, as in the worker. */
  indexingLocked: false,
};

export const version = '3.0.0-local';
export const hostVersion = '4.0.0-local';

export function registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
  if (coreState.indexingLocked) {
    throw new Error('A function can only be registered during app startup.');
  }
  const functionId = metadata.functionId || metadata.name;
  if (coreState.functions.has(functionId)) {
    throw new Error(`A function with id "${functionId}" has already been registered.`);
  }
  coreState.functions.set(functionId, {
    name: metadata.name,
    functionId,
    metadata,
    callback,
    entryPoint: coreState.currentEntryPoint,
  });
  return new Disposable(() => {
    if (coreState.indexingLocked) {
      throw new Error('A function can only be disposed during app startup.');
    }
    coreState.functions.delete(functionId);
  });
}

export function registerHook(hookName: string, callback: HookCallback): Disposable {
  const hooks = (coreState.hooks as Record<string, HookCallback[] | undefined>)[hookName];
  if (!hooks) {
    // Same error type the worker raises, so the library's own "unsupported hook" message applies.
    const error = new RangeError(`Unrecognized hook "${hookName}"`) as RangeError & {
      isAzureFunctionsSystemError: boolean;
    };
    error.isAzureFunctionsSystemError = true;
    throw error;
  }
  hooks.push(callback);
  return new Disposable(() => {
    const index = hooks.indexOf(callback);
    if (index > -1) hooks.splice(index, 1);
  });
}

export function setProgrammingModel(programmingModel: ProgrammingModel): void {
  coreState.programmingModel = programmingModel;
}

export function getProgrammingModel(): ProgrammingModel | undefined {
  return coreState.programmingModel;
}

export function log(level: RpcLogLevel, category: RpcLogCategory, message: string): void {
  coreState.logSink({ level, category, message });
}

const coreModuleName = '@azure/functions-core';
let installed = false;

/**
 * Makes `require('@azure/functions-core')` resolve to this file under plain Node.
 * The worker does the same with a `Module.prototype.require` proxy; only that exact request name is touched.
 */
export function installCoreModule(): void {
  if (installed) return;
  installed = true;
  const moduleWithResolver = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const resolveFilename = moduleWithResolver._resolveFilename;
  moduleWithResolver._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]): string {
    return request === coreModuleName ? __filename : resolveFilename.call(this, request, ...rest);
  };
}
