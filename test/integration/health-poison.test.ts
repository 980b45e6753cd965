import { QueueClient } from '@azure/storage-queue';
import { main } from '../../cli';
import { checkHealth, classifyPoison } from '../../shared/use-cases/health';
import { encodeRequestMessage } from '../../shared/core/queue/message';
import { services } from '../../shared/platform/composition-root';
import { eventually, startStack, Stack } from '../support/stack';
import { CapturedOutput } from '../support/captured-output';

/**
 * A queue message that is not valid base64 is never seen by a function: the host moves it to the poison queue,
 * whose own listener cannot decode it either and has no poison queue to move it to, so it stays. Health names
 * it and says what to do; the CLI prints that. Real Azurite, real host.
 */
describe('health and the poison queue', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });
  const queue = (name: string) => new QueueClient(stack.env.AzureWebJobsStorage!, name);

  it('classifies what it sees without showing it', () => {
    expect(classifyPoison('{"id":"x"}')).toBe('notBase64');
    expect(classifyPoison(Buffer.from('hello').toString('base64'))).toBe('notARequest');
    expect(classifyPoison(encodeRequestMessage({ id: '01a23aa1-fd92-77d6-831a-3ee01c1052d2', attempt: 0 }))).toBe(
      'request',
    );
  });

  it('a message written without base64 ends up held in the poison queue, and health and the CLI say what to do', async () => {
    // Act: what a tool that forgets the encoding writes to the work queue.
    const work = queue('chat-requests');
    await work.createIfNotExists();
    const sent = await work.sendMessage('{"id":"01a23aa1-fd92-77d6-831a-3ee01c1052d2","attempt":0}');

    // Assess: the host moved it to the poison queue, where it stays (no function runs on it).
    const report = await eventually(async () => {
      const answer = await stack.api('/api/health', { key: null });
      const body = (await answer.json()) as { queue: { poisonDepth?: number }; warnings?: string[] };
      return (body.queue.poisonDepth ?? 0) > 0 ? body : undefined;
    });
    expect(report.warnings?.join(' ')).toMatch(/not valid base64/);
    expect(report.warnings?.join(' ')).toContain('docs/operations.md#poison-queue');

    const out = new CapturedOutput();
    await main(['node', 'cli', '--url', stack.host!.url, 'health'], {}, { out, err: new CapturedOutput() });
    expect(out.text).toMatch(/\n {2}! .*not valid base64/);

    // The host's poison listener holds it invisible and takes it again every 10 minutes. With the host stopped
    // and the message visible again, health names it by id (never by content).
    await stack.host!.stop();
    const poison = queue('chat-requests-poison');
    if ((await poison.peekMessages()).peekedMessageItems.length === 0) {
      const taken = await eventually(async () => (await poison.receiveMessages()).receivedMessageItems[0]);
      await poison.updateMessage(taken.messageId, taken.popReceipt, undefined, 0);
    }
    const named = await checkHealth(services());
    expect(named.queue.poisonMessages).toEqual([
      expect.objectContaining({ problem: 'notBase64', dequeueCount: expect.any(Number) }),
    ]);
    expect(named.warnings).toEqual([
      expect.stringMatching(
        /^1 message\(s\) in chat-requests-poison are not valid base64 \(.+\): this service never writes/,
      ),
    ]);
    expect(JSON.stringify(named)).not.toContain('01a23aa1');
    expect(sent.messageId).toEqual(expect.any(String));
  });
});
