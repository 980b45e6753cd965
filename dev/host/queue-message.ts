/** Queue message shapes: decoding like the .NET queue client, trigger metadata like the queue extension. */
import type { RpcTypedData } from './functions-core';
import type { QueueMessageEncoding } from './host-json';

/** What the listener needs from a received message (the SDK's `DequeuedMessageItem` has these). */
export interface ReceivedQueueMessage {
  messageId: string;
  popReceipt: string;
  messageText: string;
  dequeueCount: number;
  insertedOn?: Date;
  expiresOn?: Date;
  nextVisibleOn?: Date;
}

/**
 * .NET `Convert.FromBase64String` rules: whitespace ignored, length a multiple of 4, only the standard
 * alphabet, at most two "=" and only at the end. Node's decoder accepts far more, so it cannot be the judge.
 */
export function isStrictBase64(text: string): boolean {
  const compact = text.replace(/[ \t\r\n]/g, '');
  return compact.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(compact);
}

export type DecodedQueueMessage = { decoded: true; body: Buffer } | { decoded: false };

/** Body bytes of a message under host.json `messageEncoding`; `decoded: false` means "poison it". */
export function decodeQueueMessage(messageText: string, encoding: QueueMessageEncoding): DecodedQueueMessage {
  if (encoding === 'none') return { decoded: true, body: Buffer.from(messageText, 'utf8') };
  if (!isStrictBase64(messageText)) return { decoded: false };
  return { decoded: true, body: Buffer.from(messageText.replace(/[ \t\r\n]/g, ''), 'base64') };
}

/** Newtonsoft's ISO form of a UTC `DateTimeOffset`: `2024-05-01T12:34:56+00:00` (fraction only when present). */
export function toDateTimeOffsetJson(date: Date): string {
  const iso = date.toISOString();
  const [withoutZone] = iso.split('Z') as [string];
  return `${withoutZone.replace(/\.000$/, '').replace(/(\.\d*?)0+$/, '$1')}+00:00`;
}

const dateTimeOffsetMax = '9999-12-31T23:59:59.9999999+00:00';

function jsonString(text: string): RpcTypedData {
  return { json: JSON.stringify(text) };
}

/**
 * Trigger metadata with the binding-data names and RPC encodings the host uses: strings as `string`,
 * the long and DateTimeOffset values as JSON (the library then JSON-parses and camel-cases them).
 * `QueueTrigger` is left out when the body is not valid UTF-8, as `TryGetAsString` does.
 */
export function toQueueTriggerMetadata(
  message: ReceivedQueueMessage,
  body: Buffer,
  now = new Date(),
): Record<string, RpcTypedData> {
  const metadata: Record<string, RpcTypedData> = {};
  const text = body.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(body)) metadata.QueueTrigger = { string: text };
  metadata.DequeueCount = { json: JSON.stringify(message.dequeueCount) };
  metadata.ExpirationTime = message.expiresOn
    ? jsonString(toDateTimeOffsetJson(message.expiresOn))
    : jsonString(dateTimeOffsetMax);
  metadata.Id = { string: message.messageId };
  metadata.InsertionTime = jsonString(toDateTimeOffsetJson(message.insertedOn ?? now));
  metadata.NextVisibleTime = message.nextVisibleOn
    ? jsonString(toDateTimeOffsetJson(message.nextVisibleOn))
    : jsonString(dateTimeOffsetMax);
  metadata.PopReceipt = { string: message.popReceipt };
  return metadata;
}

/** The trigger input: a string (the library JSON-parses it when it can), or bytes for `dataType: 'binary'`. */
export function toQueueTriggerInput(body: Buffer, dataType: unknown): RpcTypedData {
  return dataType === 'binary' || dataType === 'stream'
    ? { bytes: new Uint8Array(body) }
    : { string: body.toString('utf8') };
}

/** Queue names: lower-cased like the extension does, then validated by the storage rules. */
export function normalizeQueueName(name: string): string {
  const lower = name.toLowerCase();
  if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(lower)) {
    throw new Error(
      `invalid queue name "${name}": 3-63 characters, lower-case letters, digits and single hyphens, starting and ending with a letter or digit`,
    );
  }
  return lower;
}

/** `<queue>-poison`, unless the queue already is a poison queue or the name would be too long (then none). */
export function poisonQueueName(queueName: string): string | undefined {
  if (queueName.endsWith('-poison')) return undefined;
  const candidate = `${queueName}-poison`;
  return candidate.length <= 63 ? candidate : undefined;
}

/**
 * A queue output binding's value as message bodies, like the host's IAsyncCollector:
 * a string or bytes is one message, an array is one message per item, anything else is JSON.
 */
export function toOutgoingQueueMessages(data: RpcTypedData | null | undefined): Buffer[] {
  if (!data) return [];
  if (data.collectionString?.string) return data.collectionString.string.map((s) => Buffer.from(s, 'utf8'));
  if (data.collectionBytes?.bytes) return data.collectionBytes.bytes.map((b) => Buffer.from(b));
  if (typeof data.string === 'string') return [Buffer.from(data.string, 'utf8')];
  if (data.bytes) return [Buffer.from(data.bytes)];
  if (typeof data.int === 'number') return [Buffer.from(String(data.int))];
  if (typeof data.double === 'number') return [Buffer.from(String(data.double))];
  if (typeof data.json === 'string') {
    const value: unknown = JSON.parse(data.json);
    const items = Array.isArray(value) ? value : [value];
    return items.map((item) => Buffer.from(typeof item === 'string' ? item : JSON.stringify(item), 'utf8'));
  }
  return [];
}

/** Message text to send for a body under `messageEncoding`. */
export function encodeQueueMessage(body: Buffer, encoding: QueueMessageEncoding): string {
  return encoding === 'base64' ? body.toString('base64') : body.toString('utf8');
}
