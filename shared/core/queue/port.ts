/**
 * The queue carries small messages (request id + attempt); the request itself lives in the table.
 * Messages are base64 JSON, the encoding host.json declares (the Functions host decodes it).
 */
export interface RequestMessage {
  id: string;
  attempt: number;
  /**
   * When intake first sent the message (ISO, UTC). Intake sends a new request's message before it inserts
   * the row, so a worker may find no row yet: while this is under 10 minutes old it sends the message again
   * a few seconds later instead of dropping it. Only intake's first message carries it (every other message
   * is sent for a row that exists); a message re-sent as it is keeps it. Absent in older messages.
   */
  sentAt?: string;
}

export interface RequestQueue {
  /** Sends one message, visible after `delaySeconds` (capped at the queue's 7-day limit). */
  send(message: RequestMessage, delaySeconds?: number): Promise<void>;
}

/** Azure Storage caps a message's initial invisibility at 7 days; longer waits hop through it. */
export const MAX_QUEUE_DELAY_SECONDS = 7 * 24 * 3600 - 60;
