/**
 * The queue carries small messages (request id + attempt); the request itself lives in the table.
 * Messages are base64 JSON, the encoding host.json declares (the Functions host decodes it).
 */
export interface RequestMessage {
  id: string;
  attempt: number;
}

export interface RequestQueue {
  /** Sends one message, visible after `delaySeconds` (capped at the queue's 7-day limit). */
  send(message: RequestMessage, delaySeconds?: number): Promise<void>;
}

/** Azure Storage caps a message's initial invisibility at 7 days; longer waits hop through it. */
export const MAX_QUEUE_DELAY_SECONDS = 7 * 24 * 3600 - 60;
