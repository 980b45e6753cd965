import { coreState, type ProgrammingModel, type RegisteredFunction } from '../../dev/host/functions-core';
import { InvocationRunner } from '../../dev/host/invocation';

/** A programming model that hands the handler the retry context and echoes its result back. */
const echoModel: ProgrammingModel = {
  name: 'test',
  version: '0',
  getInvocationModel: (core) => ({
    getArguments: async () => ({
      context: { invocationId: core.invocationId, log: core.log },
      inputs: [core.request.retryContext],
    }),
    invokeFunction: async (context, inputs, callback) => callback(...inputs, context),
    getResponse: async (_context, result) => ({ returnValue: { json: JSON.stringify(result ?? null) } }),
  }),
};

function fn(
  name: string,
  callback: (...args: unknown[]) => unknown,
  retryOptions?: RegisteredFunction['metadata']['retryOptions'],
): RegisteredFunction {
  return {
    name,
    functionId: name,
    callback,
    metadata: { name, bindings: { t: { type: 'timerTrigger', direction: 'in' } }, retryOptions },
  };
}

describe('InvocationRunner', () => {
  let lines: Record<string, unknown>[];
  let runner: InvocationRunner;

  beforeEach(() => {
    coreState.programmingModel = echoModel;
    lines = [];
    runner = new InvocationRunner({
      emit: (line) => lines.push(line as Record<string, unknown>),
      functionTimeoutMs: 200,
      minimumLevel: () => 'Information',
    });
  });
  afterEach(() => {
    coreState.hooks.preInvocation.length = 0;
    coreState.hooks.postInvocation.length = 0;
    coreState.hooks.log.length = 0;
  });

  it('runs pre and post hooks around the handler, which may change inputs and result', async () => {
    // Prepare
    coreState.hooks.preInvocation.push((context) => {
      (context as { inputs: unknown[] }).inputs = ['from hook'];
    });
    coreState.hooks.postInvocation.push((context) => {
      const post = context as { result: unknown };
      post.result = `${String(post.result)} + post`;
    });
    // Act
    const outcome = await runner.invoke(
      fn('hooked', (input) => `handler saw ${String(input)}`),
      { inputData: [] },
    );
    // Assess
    expect(outcome).toMatchObject({
      outcome: 'succeeded',
      response: { returnValue: { json: '"handler saw from hook + post"' } },
    });
  });

  it('reports a failure with the error, and a timeout past functionTimeout', async () => {
    const failed = await runner.invoke(
      fn('fails', () => {
        throw new Error('nope');
      }),
      { inputData: [] },
    );
    const slow = await runner.invoke(
      fn('slow', () => new Promise((resolve) => setTimeout(resolve, 400))),
      { inputData: [] },
    );
    expect(failed).toMatchObject({ outcome: 'failed', error: new Error('nope') });
    expect(slow.outcome).toBe('timeout');
    expect(lines.filter((l) => l.phase === 'end').map((l) => l.outcome)).toEqual(['failed', 'timeout']);
    await Promise.all(runner.inFlight);
  });

  it('retries with the function retry policy and passes a retryContext', async () => {
    // Prepare: fails twice, then succeeds
    const seen: unknown[] = [];
    const flaky = fn(
      'flaky',
      (retryContext) => {
        seen.push(retryContext);
        if (seen.length < 3) throw new Error(`attempt ${seen.length}`);
        return 'ok';
      },
      { retryStrategy: 'fixedDelay', maxRetryCount: 3, delayInterval: { seconds: 0 } },
    );
    // Act
    const outcome = await runner.invokeWithRetry(flaky, { inputData: [] }, {}, new AbortController().signal);
    // Assess
    expect(outcome.outcome).toBe('succeeded');
    expect(seen).toEqual([
      undefined,
      expect.objectContaining({
        retryCount: 1,
        maxRetryCount: 3,
        exception: expect.objectContaining({ message: 'attempt 1' }),
      }),
      expect.objectContaining({
        retryCount: 2,
        maxRetryCount: 3,
        exception: expect.objectContaining({ message: 'attempt 2' }),
      }),
    ]);
  });

  it('filters logs by level and lets log hooks rewrite them', async () => {
    // Prepare
    coreState.hooks.log.push((context) => {
      const entry = context as { message: string };
      entry.message = entry.message.replace(/secret-\w+/, '[redacted]');
    });
    const logging = fn('logging', (_input, context) => {
      const log = (context as { log: (level: string, category: string, message: string) => void }).log;
      log('debug', 'user', 'too chatty');
      log('warning', 'user', 'token secret-abc used');
    });
    // Act
    await runner.invoke(logging, { inputData: [] });
    // Assess
    expect(lines.filter((l) => l.event === 'log')).toEqual([
      expect.objectContaining({
        level: 'warning',
        category: 'user',
        function: 'logging',
        message: 'token [redacted] used',
      }),
    ]);
  });
});
