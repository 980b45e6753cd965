import {
  decodeQueueMessage,
  encodeQueueMessage,
  isStrictBase64,
  normalizeQueueName,
  poisonQueueName,
  toDateTimeOffsetJson,
  toOutgoingQueueMessages,
  toQueueTriggerInput,
  toQueueTriggerMetadata,
} from '../../dev/host/queue-message';

describe('base64 like .NET Convert.FromBase64String', () => {
  it.each([
    ['aGVsbG8=', true],
    ['aGVs bG8=\r\n', true],
    ['', true],
    ['aGVsbG8', false],
    ['aGVsbG8==x', false],
    ['aGV-bG8=', false],
    ['not base64!', false],
    ['{"a":1}', false],
  ])('%j → %s', (text, valid) => {
    expect(isStrictBase64(text)).toBe(valid);
  });

  it('decodes under base64, passes through under none, refuses invalid base64', () => {
    expect(decodeQueueMessage('aGVsbG8=', 'base64')).toEqual({ decoded: true, body: Buffer.from('hello') });
    expect(decodeQueueMessage('{"a":1}', 'none')).toEqual({ decoded: true, body: Buffer.from('{"a":1}') });
    expect(decodeQueueMessage('{"a":1}', 'base64')).toEqual({ decoded: false });
  });

  it('encodes outgoing messages the same way', () => {
    expect(encodeQueueMessage(Buffer.from('hello'), 'base64')).toBe('aGVsbG8=');
    expect(encodeQueueMessage(Buffer.from('hello'), 'none')).toBe('hello');
  });
});

describe('trigger metadata', () => {
  const message = {
    messageId: 'm-1',
    popReceipt: 'pr',
    messageText: 'eyJhIjoxfQ==',
    dequeueCount: 2,
    insertedOn: new Date('2024-05-01T12:00:00Z'),
    expiresOn: new Date('2024-05-08T12:00:00Z'),
    nextVisibleOn: new Date('2024-05-01T12:10:00.250Z'),
  };

  it('uses the host names and RPC encodings', () => {
    expect(toQueueTriggerMetadata(message, Buffer.from('{"a":1}'))).toEqual({
      QueueTrigger: { string: '{"a":1}' },
      DequeueCount: { json: '2' },
      ExpirationTime: { json: '"2024-05-08T12:00:00+00:00"' },
      Id: { string: 'm-1' },
      InsertionTime: { json: '"2024-05-01T12:00:00+00:00"' },
      NextVisibleTime: { json: '"2024-05-01T12:10:00.25+00:00"' },
      PopReceipt: { string: 'pr' },
    });
  });

  it('leaves QueueTrigger out for a body that is not UTF-8', () => {
    expect(toQueueTriggerMetadata(message, Buffer.from([0xff, 0xfe])).QueueTrigger).toBeUndefined();
  });

  it('passes the trigger as a string, or as bytes for dataType binary', () => {
    expect(toQueueTriggerInput(Buffer.from('x'), undefined)).toEqual({ string: 'x' });
    expect(toQueueTriggerInput(Buffer.from('x'), 'binary')).toEqual({ bytes: new Uint8Array([120]) });
  });

  it('formats DateTimeOffset like Newtonsoft', () => {
    expect(toDateTimeOffsetJson(new Date('2024-01-02T03:04:05.120Z'))).toBe('2024-01-02T03:04:05.12+00:00');
    expect(toDateTimeOffsetJson(new Date('2024-01-02T03:04:50Z'))).toBe('2024-01-02T03:04:50+00:00');
  });
});

describe('queue names', () => {
  it('lower-cases and validates', () => {
    expect(normalizeQueueName('Chat-Requests')).toBe('chat-requests');
    expect(() => normalizeQueueName('ab')).toThrow(/invalid queue name/);
    expect(() => normalizeQueueName('a--b')).toThrow(/invalid queue name/);
    expect(() => normalizeQueueName('-ab')).toThrow(/invalid queue name/);
  });

  it('has a poison queue unless it is one or the name would be too long', () => {
    expect(poisonQueueName('chat-requests')).toBe('chat-requests-poison');
    expect(poisonQueueName('chat-requests-poison')).toBeUndefined();
    expect(poisonQueueName('q'.repeat(60))).toBeUndefined();
  });
});

describe('queue output values', () => {
  it('turns strings, bytes, objects and arrays into message bodies', () => {
    expect(toOutgoingQueueMessages({ string: 'a' })).toEqual([Buffer.from('a')]);
    expect(toOutgoingQueueMessages({ json: '{"id":1}' })).toEqual([Buffer.from('{"id":1}')]);
    expect(toOutgoingQueueMessages({ json: '[{"id":1},"two"]' })).toEqual([
      Buffer.from('{"id":1}'),
      Buffer.from('two'),
    ]);
    expect(toOutgoingQueueMessages({ collectionString: { string: ['a', 'b'] } })).toEqual([
      Buffer.from('a'),
      Buffer.from('b'),
    ]);
    expect(toOutgoingQueueMessages(undefined)).toEqual([]);
  });
});
