/**
 * Polls one storage queue for one function, following the WebJobs QueueListener + QueueProcessor:
 * batches of `batchSize`, a new batch when in-flight work drops to `newBatchThreshold`, randomized exponential
 * back-off while empty, a 10-minute lease renewed at half-time while the function runs, delete on success,
 * release with `visibilityTimeout` on failure, `<queue>-poison` once `maxDequeueCount` is reached.
 */
import type { QueueClient } from '@azure/storage-queue';
import type { QueueOptions } from './host-json';
import { minimumPollingIntervalMs } from './host-json';
import { describeError, type HostLogger } from './invocation';
import { PollingInterval } from './polling-interval';
import { decodeQueueMessage, type ReceivedQueueMessage } from './queue-message';

export interface QueueListenerOptions {
  functionName: string;
  queue: QueueClient;
  /** undefined for a queue that has none (a `-poison` queue itself): failed messages then stay invisible. */
  poisonQueue: QueueClient | undefined;
  options: QueueOptions;
  /** Runs the function for one decoded message; resolves true on success. Must not throw. */
  process: (message: ReceivedQueueMessage, body: Buffer) => Promise<boolean>;
  emit: HostLogger;
  /** How long a received message stays invisible; the host uses 10 minutes. */
  leaseMs?: number;
  /** How often the lease is renewed while the function runs; the host renews at half the lease. */
  renewEveryMs?: number;
}

const defaultLeaseMs = 10 * 60_000;

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number })?.statusCode;
}

function codeOf(error: unknown): string | undefined {
  return (error as { code?: string })?.code;
}

/** Errors the host treats as "someone else owns or removed the message": nothing left to do. */
function isMessageGone(error: unknown): boolean {
  const status = statusOf(error);
  return (
    status === 404 ||
    (status === 400 && codeOf(error) === 'PopReceiptMismatch') ||
    codeOf(error) === 'QueueBeingDeleted'
  );
}

function isAbort(error: unknown): boolean {
  return (error as { name?: string })?.name === 'AbortError';
}

export class QueueListener {
  readonly #o: QueueListenerOptions;
  readonly #interval: PollingInterval;
  readonly #leaseSeconds: number;
  readonly #renewEveryMs: number;
  /** Message tasks still running (a function, then delete/release/poison). */
  readonly processing = new Set<Promise<void>>();
  readonly #renewals = new Set<NodeJS.Timeout>();
  #queueExists = false;
  #foundSinceLastDelay = false;
  #stopping = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #poll = new AbortController();
  #reportedMissingQueue = false;

  constructor(options: QueueListenerOptions) {
    this.#o = options;
    this.#interval = new PollingInterval(minimumPollingIntervalMs, options.options.maxPollingIntervalMs);
    this.#leaseSeconds = Math.max(1, Math.round((options.leaseMs ?? defaultLeaseMs) / 1000));
    this.#renewEveryMs = options.renewEveryMs ?? (this.#leaseSeconds * 1000) / 2;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Polls now instead of waiting out the back-off (the host does this when its own code enqueues). */
  notify(): void {
    this.#wake?.();
  }

  /** Stops polling (an in-flight receive is aborted); running messages go on, see `processing`. */
  async stopPolling(): Promise<void> {
    this.#stopping = true;
    this.#poll.abort();
    this.#wake?.();
    await this.#loop;
  }

  /** Called when the host gives up waiting: leases of still-running messages are no longer renewed. */
  abandon(): void {
    for (const timer of this.#renewals) clearTimeout(timer);
    this.#renewals.clear();
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      let next: 'threshold' | number;
      try {
        next = await this.#receiveBatch();
      } catch (error) {
        if (this.#stopping && isAbort(error)) break;
        this.#queueExists = false;
        this.#o.emit({
          event: 'queue',
          phase: 'poll-error',
          function: this.#o.functionName,
          queue: this.#o.queue.name,
          error: describeError(error),
        });
        next = this.#backoff();
      }
      if (this.#stopping) break;
      if (next === 'threshold') await this.#waitForNewBatchThreshold();
      else await this.#sleep(next);
    }
  }

  #backoff(): number {
    const ms = this.#interval.next(this.#foundSinceLastDelay);
    this.#foundSinceLastDelay = false;
    return ms;
  }

  async #receiveBatch(): Promise<'threshold' | number> {
    const { queue, options } = this.#o;
    if (!this.#queueExists) {
      // The host never creates a trigger queue: it checks, backs off and checks again.
      this.#queueExists = await queue.exists({ abortSignal: this.#poll.signal });
      if (!this.#queueExists) {
        if (!this.#reportedMissingQueue) {
          this.#reportedMissingQueue = true;
          this.#o.emit({ event: 'queue', phase: 'queue-not-found', function: this.#o.functionName, queue: queue.name });
        }
        return this.#backoff();
      }
    }
    let items: ReceivedQueueMessage[];
    try {
      const response = await queue.receiveMessages({
        numberOfMessages: options.batchSize,
        visibilityTimeout: this.#leaseSeconds,
        abortSignal: this.#poll.signal,
      });
      items = response.receivedMessageItems;
    } catch (error) {
      if (statusOf(error) === 404) {
        this.#queueExists = false;
        return this.#backoff();
      }
      throw error;
    }
    if (items.length === 0) return this.#backoff();
    for (const message of items) {
      const task = this.#handle(message).catch((error: unknown) => {
        this.#o.emit({
          event: 'queue',
          phase: 'error',
          function: this.#o.functionName,
          queue: queue.name,
          messageId: message.messageId,
          error: describeError(error),
        });
      });
      this.processing.add(task);
      void task.finally(() => this.processing.delete(task));
    }
    this.#foundSinceLastDelay = true;
    return 'threshold';
  }

  async #waitForNewBatchThreshold(): Promise<void> {
    while (this.processing.size > this.#o.options.newBatchThreshold && !this.#stopping) {
      await Promise.race([...this.processing, new Promise<void>((resolve) => (this.#wake = resolve))]);
      this.#wake = undefined;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const wake = (): void => done();
      this.#wake = wake;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    }).then(() => {
      this.#wake = undefined;
    });
  }

  async #handle(received: ReceivedQueueMessage): Promise<void> {
    const { options, poisonQueue } = this.#o;
    const message = { ...received };
    if (message.dequeueCount > options.maxDequeueCount) {
      // Dequeued more often than allowed (e.g. the host died mid-run): poison without running, as BeginProcessingMessageAsync does.
      return this.#poison(message, 'dequeue count above maxDequeueCount');
    }
    const decoded = decodeQueueMessage(message.messageText, options.messageEncoding);
    if (!decoded.decoded) {
      // The extension's MessageDecodingFailed handler sends undecodable messages straight to the poison queue.
      return this.#poison(message, 'not valid base64 (host.json messageEncoding is base64)');
    }
    const stopRenewing = this.#renewLease(message);
    let succeeded: boolean;
    try {
      succeeded = await this.#o.process(message, decoded.body);
    } finally {
      await stopRenewing();
    }
    if (succeeded) return this.#delete(message);
    if (!poisonQueue) return; // No poison queue: leave it invisible for the rest of the lease, to avoid a hot loop.
    if (message.dequeueCount >= options.maxDequeueCount) return this.#poison(message, 'maxDequeueCount reached');
    return this.#release(message);
  }

  /** Keeps the message invisible while the function runs; returns how to stop (waiting out a renewal in flight). */
  #renewLease(message: ReceivedQueueMessage): () => Promise<void> {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let pending: Promise<void> = Promise.resolve();
    const schedule = (ms: number): void => {
      if (stopped) return;
      timer = setTimeout(() => {
        this.#renewals.delete(timer as NodeJS.Timeout);
        pending = this.#o.queue
          .updateMessage(message.messageId, message.popReceipt, undefined, this.#leaseSeconds)
          .then((updated) => {
            if (updated.popReceipt) message.popReceipt = updated.popReceipt;
            this.#o.emit({
              event: 'queue',
              phase: 'lease-renewed',
              function: this.#o.functionName,
              messageId: message.messageId,
            });
            schedule(this.#renewEveryMs);
          })
          .catch((error: unknown) => {
            if (isMessageGone(error)) return;
            this.#o.emit({
              event: 'queue',
              phase: 'lease-renewal-failed',
              function: this.#o.functionName,
              messageId: message.messageId,
              error: describeError(error),
            });
            schedule(Math.max(1_000, this.#renewEveryMs / 4));
          });
      }, ms);
      // The lease timer alone must not keep the process alive.
      timer.unref();
      this.#renewals.add(timer);
    };
    schedule(this.#renewEveryMs);
    return async () => {
      stopped = true;
      if (timer) {
        clearTimeout(timer);
        this.#renewals.delete(timer);
      }
      await pending;
    };
  }

  async #delete(message: ReceivedQueueMessage): Promise<void> {
    try {
      await this.#o.queue.deleteMessage(message.messageId, message.popReceipt);
    } catch (error) {
      if (!isMessageGone(error)) throw error;
    }
  }

  async #release(message: ReceivedQueueMessage): Promise<void> {
    const visibilitySeconds = Math.round(this.#o.options.visibilityTimeoutMs / 1000);
    try {
      await this.#o.queue.updateMessage(message.messageId, message.popReceipt, undefined, visibilitySeconds);
      this.#o.emit({
        event: 'queue',
        phase: 'released',
        function: this.#o.functionName,
        queue: this.#o.queue.name,
        messageId: message.messageId,
        dequeueCount: message.dequeueCount,
        visibleInSeconds: visibilitySeconds,
      });
    } catch (error) {
      if (!isMessageGone(error)) throw error;
    }
  }

  /** Copies the raw message text (still encoded, byte for byte) to the poison queue, then deletes the original. */
  async #poison(message: ReceivedQueueMessage, reason: string): Promise<void> {
    const poisonQueue = this.#o.poisonQueue;
    if (!poisonQueue) return;
    try {
      await poisonQueue.sendMessage(message.messageText);
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
      // AddMessageAndCreateIfNotExistsAsync: the poison queue is created on first use.
      await poisonQueue.createIfNotExists();
      await poisonQueue.sendMessage(message.messageText);
    }
    this.#o.emit({
      event: 'queue',
      phase: 'poisoned',
      function: this.#o.functionName,
      queue: this.#o.queue.name,
      poisonQueue: poisonQueue.name,
      messageId: message.messageId,
      dequeueCount: message.dequeueCount,
      reason,
    });
    await this.#delete(message);
  }
}
