/**
 * Runs one invocation through the app's programming model, the way the worker's InvocationHandler does:
 * getArguments → preInvocation hooks → invokeFunction → postInvocation hooks → getResponse.
 * Adds what the host adds around it: functionTimeout, structured start/end logs, tracking for a graceful stop.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  type CoreInvocationContext,
  type HookCallback,
  type HookName,
  type RegisteredFunction,
  type RpcFunctionMetadata,
  type RpcInvocationRequest,
  type RpcInvocationResponse,
  type RpcLogCategory,
  type RpcLogLevel,
  type RpcParameterBinding,
  type RpcRetryContext,
  type RpcTypedData,
  coreState,
} from './functions-core';
import { type LogLevelName, passesLogLevel } from './host-json';

export type HostLogger = (line: object) => void;

export interface InvocationInput {
  inputData: RpcParameterBinding[];
  triggerMetadata?: Record<string, RpcTypedData>;
  retryContext?: RpcRetryContext;
}

export type InvocationOutcome =
  | { outcome: 'succeeded'; invocationId: string; response: RpcInvocationResponse }
  | { outcome: 'failed'; invocationId: string; error: unknown }
  | { outcome: 'timeout'; invocationId: string };

export interface InvocationRunnerOptions {
  emit: HostLogger;
  /** undefined: no limit (`"functionTimeout": "-1"`). */
  functionTimeoutMs: number | undefined;
  /** Minimum level for a function's logs (host.json `logging.logLevel`). */
  minimumLevel: (functionName: string, category: RpcLogCategory) => LogLevelName;
  /** Writes output bindings the host owns (queue outputs); throwing fails the invocation. */
  writeOutputs?: (fn: RegisteredFunction, response: RpcInvocationResponse) => Promise<void>;
}

export class FunctionTimeoutError extends Error {
  constructor(functionName: string, timeoutMs: number) {
    super(`Timeout value of ${timeoutMs} ms was exceeded by function: ${functionName}`);
    this.name = 'FunctionTimeoutError';
  }
}

class ReadOnlyError extends TypeError {
  constructor(property: string) {
    super(`Cannot assign to read only property '${property}'`);
  }
}

/** A plain description of an error for the logs: never the request body, never a secret. */
export function describeError(error: unknown): { name: string; message: string; stack?: string } {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: typeof error, message: String(error) };
}

async function executeHooks(hookName: HookName, context: object): Promise<void> {
  for (const callback of [...(coreState.hooks[hookName] as HookCallback[])]) {
    await callback(context);
  }
}

function toRpcMetadata(fn: RegisteredFunction): RpcFunctionMetadata {
  return {
    name: fn.name,
    functionId: fn.functionId,
    bindings: fn.metadata.bindings,
    rawBindings: Object.entries(fn.metadata.bindings).map(([name, binding]) => JSON.stringify({ ...binding, name })),
    retryOptions: fn.metadata.retryOptions,
    scriptFile: fn.entryPoint,
  };
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export class InvocationRunner {
  readonly #options: InvocationRunnerOptions;
  /** Every invocation still running, including ones past their timeout: stop() waits for them. */
  readonly inFlight = new Set<Promise<unknown>>();

  constructor(options: InvocationRunnerOptions) {
    this.#options = options;
  }

  /** Runs `fn` once; never throws: failures and timeouts come back as the outcome. */
  async invoke(
    fn: RegisteredFunction,
    input: InvocationInput,
    details: Record<string, unknown> = {},
  ): Promise<InvocationOutcome> {
    const invocationId = randomUUID();
    const started = performance.now();
    const { emit, functionTimeoutMs } = this.#options;
    emit({ event: 'invocation', phase: 'start', function: fn.name, invocationId, ...details });
    const run = this.#run(fn, invocationId, input);
    const settled = run.then(
      (response) => ({ outcome: 'succeeded' as const, invocationId, response }),
      (error: unknown) => ({ outcome: 'failed' as const, invocationId, error }),
    );
    this.inFlight.add(settled);
    void settled.finally(() => this.inFlight.delete(settled));
    let timer: NodeJS.Timeout | undefined;
    const timedOut =
      functionTimeoutMs === undefined
        ? undefined
        : new Promise<InvocationOutcome>((resolve) => {
            timer = setTimeout(() => resolve({ outcome: 'timeout', invocationId }), functionTimeoutMs);
          });
    const result = timedOut ? await Promise.race([settled, timedOut]) : await settled;
    clearTimeout(timer);
    const durationMs = Math.round(performance.now() - started);
    const end: Record<string, unknown> = {
      event: 'invocation',
      phase: 'end',
      function: fn.name,
      invocationId,
      durationMs,
      outcome: result.outcome,
      ...details,
    };
    if (result.outcome === 'failed') end.error = describeError(result.error);
    if (result.outcome === 'timeout') {
      end.error = describeError(new FunctionTimeoutError(fn.name, functionTimeoutMs as number));
      void settled.then((late) =>
        emit({
          event: 'invocation',
          phase: 'finished-after-timeout',
          function: fn.name,
          invocationId,
          outcome: late.outcome,
        }),
      );
    }
    emit(end);
    return result;
  }

  /**
   * Runs with the function's retry policy (`retry` option: timers), passing the worker a retryContext.
   * Stops retrying when `signal` aborts (host stopping).
   */
  async invokeWithRetry(
    fn: RegisteredFunction,
    input: InvocationInput,
    details: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<InvocationOutcome> {
    const policy = fn.metadata.retryOptions;
    let outcome = await this.invoke(fn, input, details);
    if (!policy?.retryStrategy) return outcome;
    const maxRetryCount = policy.maxRetryCount ?? 0;
    for (
      let retryCount = 1;
      outcome.outcome !== 'succeeded' && (maxRetryCount < 0 || retryCount <= maxRetryCount);
      retryCount++
    ) {
      const waitMs =
        policy.retryStrategy === 'fixedDelay'
          ? (policy.delayInterval?.seconds ?? 0) * 1000
          : Math.min(
              (policy.minimumInterval?.seconds ?? 0) * 1000 * 2 ** (retryCount - 1),
              (policy.maximumInterval?.seconds ?? Number.POSITIVE_INFINITY) * 1000,
            );
      await delay(waitMs, signal);
      if (signal.aborted) break;
      const failure = outcome.outcome === 'failed' ? describeError(outcome.error) : { message: 'timeout', stack: '' };
      const retryContext: RpcRetryContext = {
        retryCount,
        maxRetryCount,
        exception: { message: failure.message, stackTrace: failure.stack ?? '', source: fn.name },
      };
      outcome = await this.invoke(fn, { ...input, retryContext }, { ...details, retryCount });
    }
    return outcome;
  }

  async #run(fn: RegisteredFunction, invocationId: string, input: InvocationInput): Promise<RpcInvocationResponse> {
    const model = coreState.programmingModel;
    if (!model)
      throw new Error('No programming model registered: "@azure/functions" never reached @azure/functions-core');
    const request: RpcInvocationRequest = {
      invocationId,
      functionId: fn.functionId,
      inputData: input.inputData,
      triggerMetadata: input.triggerMetadata ?? {},
      retryContext: input.retryContext,
    };
    // The worker's log hooks see the InvocationContext once getArguments has built it.
    const current: { invocationContext?: unknown } = {};
    const coreContext: CoreInvocationContext = {
      invocationId,
      request,
      metadata: toRpcMetadata(fn),
      state: undefined,
      log: (level, category, message) =>
        this.#log(fn, invocationId, level, category, message, current.invocationContext),
    };
    const invocationModel = await model.getInvocationModel(coreContext);
    const { context, inputs } = await invocationModel.getArguments();
    current.invocationContext = context;
    const hookData: Record<string, unknown> = {};
    const preInvocation = {
      get hookData() {
        return hookData;
      },
      set hookData(_value) {
        throw new ReadOnlyError('hookData');
      },
      get appHookData() {
        return coreState.appHookData;
      },
      set appHookData(_value) {
        throw new ReadOnlyError('appHookData');
      },
      get invocationContext() {
        return context;
      },
      set invocationContext(_value) {
        throw new ReadOnlyError('invocationContext');
      },
      functionCallback: fn.callback,
      inputs,
    };
    coreContext.state = 'preInvocationHooks';
    try {
      await executeHooks('preInvocation', preInvocation);
    } finally {
      coreContext.state = undefined;
    }
    const postInvocation = {
      get hookData() {
        return hookData;
      },
      set hookData(_value) {
        throw new ReadOnlyError('hookData');
      },
      get appHookData() {
        return coreState.appHookData;
      },
      set appHookData(_value) {
        throw new ReadOnlyError('appHookData');
      },
      get invocationContext() {
        return context;
      },
      set invocationContext(_value) {
        throw new ReadOnlyError('invocationContext');
      },
      inputs: preInvocation.inputs,
      result: null as unknown,
      error: null as unknown,
    };
    coreContext.state = 'invocation';
    try {
      postInvocation.result = await invocationModel.invokeFunction(
        context,
        preInvocation.inputs,
        preInvocation.functionCallback,
      );
    } catch (error) {
      postInvocation.error = error;
    } finally {
      coreContext.state = undefined;
    }
    coreContext.state = 'postInvocationHooks';
    try {
      await executeHooks('postInvocation', postInvocation);
    } finally {
      coreContext.state = undefined;
    }
    if (postInvocation.error !== null && postInvocation.error !== undefined) throw postInvocation.error;
    const response = await invocationModel.getResponse(context, postInvocation.result);
    await this.#options.writeOutputs?.(fn, response);
    return response;
  }

  #log(
    fn: RegisteredFunction,
    invocationId: string,
    level: RpcLogLevel,
    category: RpcLogCategory,
    message: string,
    invocationContext: unknown,
  ): void {
    try {
      const entry = runLogHooks({ level, category, message }, invocationContext);
      if (!passesLogLevel(entry.level, this.#options.minimumLevel(fn.name, category))) return;
      this.#options.emit({
        event: 'log',
        level: entry.level,
        category,
        function: fn.name,
        invocationId,
        message: entry.message,
      });
    } catch {
      // A broken logger or log hook must never break the invocation.
    }
  }
}

/** `app.hook.log` callbacks may rewrite level and message; they run synchronously like the worker's. */
export function runLogHooks(
  entry: { level: RpcLogLevel; category: RpcLogCategory; message: string },
  invocationContext?: unknown,
): { level: RpcLogLevel; message: string } {
  const callbacks = coreState.hooks.log;
  if (callbacks.length === 0) return entry;
  const hookData: Record<string, unknown> = {};
  const context = {
    level: entry.level,
    message: entry.message,
    get category() {
      return entry.category;
    },
    get invocationContext() {
      return invocationContext;
    },
    get hookData() {
      return hookData;
    },
    get appHookData() {
      return coreState.appHookData;
    },
  };
  for (const callback of [...callbacks]) {
    try {
      // The worker does not await log hooks either; a rejected promise is swallowed, not left unhandled.
      Promise.resolve(callback(context)).catch(() => undefined);
    } catch {
      // A failing log hook only loses its own change.
    }
  }
  return { level: context.level, message: context.message };
}
