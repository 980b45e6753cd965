/**
 * The old entry point of the request queue, kept so files not yet moved to `shared/queue/` compile
 * unchanged: the port (port.ts), the message parser (message.ts) and the storage adapter.
 */
export { encodeRequestMessage, type ParsedMessage, parseRequestMessage } from './queue/message';
export { MAX_QUEUE_DELAY_SECONDS, type RequestMessage, type RequestQueue } from './queue/port';
export { StorageRequestQueue } from './queue/storage-queue';
