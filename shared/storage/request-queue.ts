import { QueueClient } from '@azure/storage-queue';
import { asStorageError } from '../core/errors';
import { encodeRequestMessage } from '../core/queue/message';
import { MAX_QUEUE_DELAY_SECONDS, type RequestMessage, type RequestQueue } from '../core/queue/port';

/** The RequestQueue on an Azure Storage queue. */
export class StorageRequestQueue implements RequestQueue {
  constructor(private readonly queue: QueueClient) {}

  async send(message: RequestMessage, delaySeconds = 0): Promise<void> {
    const visibilityTimeout = Math.min(Math.max(0, Math.ceil(delaySeconds)), MAX_QUEUE_DELAY_SECONDS);
    try {
      // messageTimeToLive -1: never expire, so a delayed message cannot vanish before it is due.
      await this.queue.sendMessage(encodeRequestMessage(message), { visibilityTimeout, messageTimeToLive: -1 });
    } catch (error) {
      asStorageError(error, 'send queue message');
    }
  }
}
