import { QueueClient } from '@azure/storage-queue';
import { newRequestId } from '../shared/core/ids';
import { encodeRequestMessage } from '../shared/core/queue/message';
import { childPids, cpuSecondsOf, startStorage } from './stack';

/**
 * P1's queue floor (information): what this Azurite alone allows a pipeline that holds its backlog in
 * the queue, one message per request as docs/architecture.md has it. On a fresh Azurite, `messages` messages
 * like the service's are sent (16 at a time), then received 16 at a time by two receivers (host.json's
 * batchSize) and deleted, with the SDK alone: no tables, no Graph, no host. Every request in P1 costs at
 * least that send, its share of a receive and that delete.
 *
 * Unpatched Azurite (3.35, 3.37) rescans the account's messages on every receive, delete and update
 * (LokiQueueMetadataStore.clearExpiredMessages) and its `remove([])` rebuilds the collection's four
 * indices, so each queue call costs O(n log n) in the messages it holds: the drain rate falls as the
 * backlog grows, where Azure Storage's does not. The development copy is patched (patches/, bench/README.md).
 */

export interface QueueFloorOptions {
  messages: number;
  log: (line: string) => void;
}

export interface QueueFloorResult {
  messages: number;
  sendMs: number;
  drainMs: number;
  /** Messages received and deleted per second, over the whole drain. */
  drainRate: number;
  /** Azurite's CPU seconds during the drain. */
  azuriteCpuSeconds: number;
}

const RECEIVERS = 2;
const BATCH = 16;
/** Receives that find nothing before a receiver gives up (messages lost by Azurite would end the drain). */
const EMPTY_RECEIVES = 50;

export async function runQueueFloor(options: QueueFloorOptions): Promise<QueueFloorResult> {
  const { messages, log } = options;
  const azurite = await startStorage();
  try {
    const queue = new QueueClient(azurite.connectionString, 'queue-floor');
    await queue.create();
    // The service's message, sent as StorageRequestQueue sends it (never expires).
    const body = encodeRequestMessage({ id: newRequestId(), attempt: 0 });
    let sent = 0;
    const sendStarted = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (sent < messages) {
          sent += 1;
          await queue.sendMessage(body, { messageTimeToLive: -1 });
        }
      }),
    );
    const sendMs = performance.now() - sendStarted;

    const azuritePid = childPids('azurite')[0];
    const cpuBefore = cpuSecondsOf(azuritePid);
    let deleted = 0;
    const drainStarted = performance.now();
    await Promise.all(
      Array.from({ length: RECEIVERS }, async () => {
        let empty = 0;
        while (deleted < messages && empty < EMPTY_RECEIVES) {
          const { receivedMessageItems: items } = await queue.receiveMessages({
            numberOfMessages: BATCH,
            visibilityTimeout: 600,
          });
          if (items.length === 0) empty += 1;
          await Promise.all(
            items.map(async (item) => {
              await queue.deleteMessage(item.messageId, item.popReceipt);
              deleted += 1;
            }),
          );
        }
      }),
    );
    const drainMs = performance.now() - drainStarted;
    if (deleted < messages) throw new Error(`queue floor: ${deleted} of ${messages} messages came back`);
    const result: QueueFloorResult = {
      messages,
      sendMs,
      drainMs,
      drainRate: messages / (drainMs / 1000),
      azuriteCpuSeconds: cpuSecondsOf(azuritePid) - cpuBefore,
    };
    log(
      `  P1 queue floor: ${messages} messages sent in ${(sendMs / 1000).toFixed(1)} s, received and deleted in ` +
        `${(drainMs / 1000).toFixed(1)} s = ${result.drainRate.toFixed(1)}/s (Azurite ${result.azuriteCpuSeconds.toFixed(1)} CPU-s)`,
    );
    return result;
  } finally {
    await azurite.stop();
  }
}
