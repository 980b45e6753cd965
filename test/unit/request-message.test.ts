import fc from 'fast-check';
import { z } from 'zod';
import { isRequestId, newRequestId } from '../../shared/core/ids';
import { encodeRequestMessage, parseRequestMessage, SENT_AT_PROBLEM } from '../../shared/core/queue/message';

/**
 * The zod schema the parser replaced: its answers are the reference for every reason. `sentAt` is zod's own
 * ISO date-time check (UTC, seconds required, real dates only), with our wording for a bad format.
 */
const zodSchema = z.strictObject({
  id: z.string().refine(isRequestId, 'id must be a request id'),
  attempt: z.number().int().min(0).max(1_000_000),
  sentAt: z.iso
    .datetime({ error: (issue) => (issue.code === 'invalid_format' ? SENT_AT_PROBLEM : undefined) })
    .optional(),
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
const pad = (n: number, width: number) => String(n).padStart(width, '0');
/** Date-times near the edges: impossible days (Feb 29 of common years, the 31st of short months), 24:00, 60 s. */
const dateTimeLike = fc
  .record({
    year: fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(1900, 2000, 2024, 2100, 2400, 0, 4)),
    month: fc.integer({ min: 0, max: 13 }),
    day: fc.integer({ min: 0, max: 32 }),
    hour: fc.integer({ min: 0, max: 25 }),
    minute: fc.integer({ min: 0, max: 61 }),
    second: fc.integer({ min: 0, max: 61 }),
    fraction: fc.constantFrom('', '.', '.1', '.123', '.123456789', '.x'),
    zone: fc.constantFrom('Z', 'Z', 'Z', 'z', '', '+00:00', '+01:00', '-05:30'),
    seconds: fc.boolean(),
  })
  .map(
    (t) =>
      `${pad(t.year, 4)}-${pad(t.month, 2)}-${pad(t.day, 2)}T${pad(t.hour, 2)}:${pad(t.minute, 2)}` +
      `${t.seconds ? `:${pad(t.second, 2)}${t.fraction}` : ''}${t.zone}`,
  );
const sentAts = fc.oneof(
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom(1900, 2000, 2023, 2024, 2100, 2400, 0).map((year) => `${pad(year, 4)}-02-29T00:00:00Z`),
  dateTimeLike,
  fc.string(),
  fc.jsonValue(),
);
const messages = fc.oneof(
  fc.record({ id: ids, attempt: attempts }, { requiredKeys: [] }),
  fc.record({ id: fc.constant(ID), attempt: fc.constant(0), sentAt: sentAts }),
  fc.record({ id: ids, attempt: attempts, sentAt: sentAts }, { requiredKeys: [] }),
  fc
    .tuple(
      fc.record({ id: ids, attempt: attempts, sentAt: sentAts }, { requiredKeys: ['id', 'attempt'] }),
      fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }),
    )
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

  it('keeps a valid sentAt, names a bad one, and takes messages without it (written before it existed)', () => {
    // Prepare
    const sentAt = '2026-11-24T12:00:00.000Z';

    // Act
    const withIt = parseRequestMessage(JSON.stringify({ id: ID, attempt: 0, sentAt }));
    const without = parseRequestMessage(JSON.stringify({ id: ID, attempt: 0 }));
    const local = parseRequestMessage({ id: ID, attempt: 0, sentAt: '2026-11-24T12:00:00' });
    const noDay = parseRequestMessage({ id: ID, attempt: 0, sentAt: '2026-02-29T12:00:00Z' });
    const notText = parseRequestMessage({ id: ID, attempt: 0, sentAt: 1764000000000 });

    // Assess
    expect(withIt).toEqual({ ok: true, value: { id: ID, attempt: 0, sentAt } });
    expect(without).toEqual({ ok: true, value: { id: ID, attempt: 0 } });
    expect(without.ok && 'sentAt' in without.value).toBe(false);
    const bad = `sentAt: sentAt must be a UTC ISO 8601 date-time, like 2025-01-15T10:00:00.000Z`;
    expect(local).toEqual({ ok: false, reason: bad });
    expect(noDay).toEqual({ ok: false, reason: bad });
    expect(notText).toEqual({ ok: false, reason: 'sentAt: Invalid input: expected string, received number' });
    expect(Buffer.from(encodeRequestMessage({ id: ID, attempt: 0, sentAt }), 'base64').toString('utf8')).toBe(
      JSON.stringify({ id: ID, attempt: 0, sentAt }),
    );
  });

  it('names every problem at once', () => {
    expect(parseRequestMessage({ id: 'x', attempt: -1, extra: true })).toEqual({
      ok: false,
      reason:
        'id: id must be a request id; attempt: Too small: expected number to be >=0; message: Unrecognized key: "extra"',
    });
  });
});
