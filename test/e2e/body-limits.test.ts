/**
 * The probe's case: a 50 MiB body with a valid function key. The host (20 MiB limit, as in Azure) stops
 * reading at its limit and answers 413 before the client has sent the body; a declared length over the
 * limit is answered without reading any of it. Nothing here measures time: only bytes sent.
 */
import * as net from 'node:net';
import { HOST_REQUEST_BODY_LIMIT_BYTES } from '../../shared/http/json-body';
import { startStack, Stack } from '../support/stack';

const MiB = 1024 * 1024;

describe('oversized bodies on the service', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { 'AzureWebJobs.worker.Disabled': 'true' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** Writes `head`, then body chunks until an answer arrives or `total` bytes are sent. */
  async function upload(head: string, total: number, chunked: boolean): Promise<{ answer: string; sent: number }> {
    const socket = net.connect(stack.host!.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.on('error', () => undefined);
    let answer = '';
    socket.on('data', (data: Buffer) => (answer += data.toString('latin1')));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(head);
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    const frame = chunked
      ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')])
      : chunk;
    let sent = 0;
    while (answer === '' && sent < total) {
      sent += chunk.length;
      if (!socket.write(frame)) {
        await new Promise<void>((resolve) => {
          socket.once('drain', resolve);
          socket.once('data', () => resolve());
          socket.once('close', () => resolve());
        });
      }
    }
    // All sent and no answer yet (a host that reads everything): end the body, then wait for the answer.
    if (answer === '' && chunked) socket.write('0\r\n\r\n');
    if (answer === '') await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.destroy();
    await closed;
    return { answer, sent };
  }

  const head = (framing: string) =>
    `POST /api/requests HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
    `x-functions-key: ${stack.functionKey}\r\n${framing}\r\n\r\n`;

  it('a chunked 50 MiB body is answered 413 at the host limit, before the client has sent it all', async () => {
    const { answer, sent } = await upload(head('Transfer-Encoding: chunked'), 50 * MiB, true);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(sent).toBeGreaterThan(HOST_REQUEST_BODY_LIMIT_BYTES);
    expect(sent).toBeLessThan(50 * MiB);
  });

  it('a declared 50 MiB body is answered 413 at once, before the client has sent it', async () => {
    const { answer, sent } = await upload(head(`Content-Length: ${50 * MiB}`), 50 * MiB, false);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(sent).toBeLessThan(50 * MiB);
    expect(answer.toLowerCase()).toContain('connection: close');
  });
});
