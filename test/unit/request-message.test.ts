import fc from 'fast-check';
import { z } from 'zod';
import { isRequestId, newRequestId } from '../../shared/core/ids';
import { encodeRequestMessage, parseRequestMessage } from '../../shared/core/queue/message';

/** The zod schema the parser replaced: its answers are the reference for every reason. */
const zodSchema = z.strictObject({
  id: z.string().refine(isRequestId, 'id must be a request id'),
  attempt: z.number().int().min(0).max(1_000_000),
});

/** The parser as it was with zod (strings are JSON text, as the host may hand them over). */
function zodAnswer(input: unknown) {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch {
      return { ok: false, reason: 'message is not JSON' };
    }
  }
  const parsed = zodSchema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  return {
    ok: false,
    reason: parsed.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; '),
  };
}

const ID = newRequestId(new Date('2025-01-15T10:00:00Z'));
const attempts = fc.oneof(
  fc.integer({ min: -5, max: 1_000_005 }),
  fc.double(),
  fc.constantFrom(0, -0, 1e300, -1e300, 2 ** 53, -(2 ** 53), Number.MAX_SAFE_INTEGER, NaN, Infinity, -Infinity),
  fc.jsonValue(),
);
const ids = fc.oneof(fc.constant(ID), fc.uuid(), fc.string(), fc.jsonValue());
const messages = fc.oneof(
  fc.record({ id: ids, attempt: attempts }, { requiredKeys: [] }),
  fc
    .tuple(fc.record({ id: ids, attempt: attempts }), fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }))
    .map(([known, extra]) => ({ ...extra, ...known })),
  fc.jsonValue(),
  fc.jsonValue().map((v) => JSON.stringify(v)),
);

describe('parseRequestMessage', () => {
  it('answers as the zod schema did, reasons included, for any JSON value', () => {
    fc.assert(
      fc.property(messages, (value) => {
        expect(parseRequestMessage(value)).toEqual(zodAnswer(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('reads the base64-decoded text and Buffers the host hands over', () => {
    // Prepare
    const text = JSON.stringify({ id: ID, attempt: 3 });

    // Act
    const fromText = parseRequestMessage(text);
    const fromBuffer = parseRequestMessage(Buffer.from(text, 'utf8'));
    const notJson = parseRequestMessage('{"id":');

    // Assess
    expect(fromText).toEqual({ ok: true, value: { id: ID, attempt: 3 } });
    expect(fromBuffer).toEqual(fromText);
    expect(notJson).toEqual({ ok: false, reason: 'message is not JSON' });
    expect(Buffer.from(encodeRequestMessage({ id: ID, attempt: 3 }), 'base64').toString('utf8')).toBe(text);
  });

  it('names every problem at once', () => {
    expect(parseRequestMessage({ id: 'x', attempt: -1, extra: true })).toEqual({
      ok: false,
      reason:
        'id: id must be a request id; attempt: Too small: expected number to be >=0; message: Unrecognized key: "extra"',
    });
  });
});
