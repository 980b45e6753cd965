import fc from 'fast-check';
import {
  DEFAULT_MAX_BODY_BYTES,
  HOST_REQUEST_BODY_LIMIT_BYTES,
  MAX_BATCH_BODY_BYTES,
  MAX_JSON_DEPTH,
  readBodyBounded,
  findJsonSyntaxError,
  firstInvalidUtf8,
  readJsonBody,
} from '../../shared/http/json-body';
import { PROBLEM_CONTENT_TYPE, ProblemType } from '../../shared/http/problem';

const JSON_TYPE = 'application/json';
const read = (text: string | Uint8Array, contentType: string | null = JSON_TYPE, maxBytes?: number) =>
  readJsonBody({ contentType, body: typeof text === 'string' ? Buffer.from(text, 'utf8') : text, maxBytes });

function problemOf(result: ReturnType<typeof readJsonBody>) {
  if (result.ok) throw new Error(`expected a problem, got ${JSON.stringify(result.value)}`);
  return result.problem;
}

describe('readJsonBody: accepted bodies', () => {
  it('parses a JSON object', () => {
    // Act
    const result = read('{"chatType":"group","members":["a@x.com"]}');

    // Assess
    expect(result).toEqual({ ok: true, value: { chatType: 'group', members: ['a@x.com'] } });
  });

  it.each([
    'application/json',
    'Application/JSON',
    'application/json; charset=utf-8',
    'application/json;charset="UTF-8"',
    'application/json; charset=utf8; foo=bar',
    'application/merge-patch+json',
    'application/vnd.contoso.chat+json; charset=utf-8',
  ])('accepts Content-Type %s', (contentType) => {
    expect(read('{}', contentType)).toEqual({ ok: true, value: {} });
  });

  it('strips one UTF-8 BOM', () => {
    // Prepare
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":"é"}')]);

    // Act / Assess
    expect(read(body)).toEqual({ ok: true, value: { a: 'é' } });
  });

  it('accepts a body of exactly the limit, and nesting of exactly 64 levels', () => {
    // Prepare
    const atLimit = `"${'x'.repeat(DEFAULT_MAX_BODY_BYTES - 2)}"`;
    const deepest = '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH);

    // Act / Assess
    expect(read(atLimit).ok).toBe(true);
    expect(read(deepest).ok).toBe(true);
  });

  it('does not count brackets inside strings as nesting', () => {
    // Prepare
    const text = JSON.stringify({ topic: '['.repeat(500) + '\\"{'.repeat(100) });

    // Act / Assess
    expect(read(text).ok).toBe(true);
  });
});

describe('readJsonBody: 415', () => {
  it.each([
    [null, /no Content-Type/],
    ['', /no Content-Type/],
    ['text/plain', /"text\/plain" is not supported/],
    ['application/x-www-form-urlencoded', /not supported/],
    ['application/jsonp', /not supported/],
    ['application/json; charset=iso-8859-1', /charset "iso-8859-1" is not supported/],
    ['application/json; charset=utf-16', /charset "utf-16"/],
  ])('refuses Content-Type %p', (contentType, detail) => {
    // Act
    const problem = problemOf(read('{}', contentType));

    // Assess
    expect(problem).toMatchObject({ status: 415, type: ProblemType.unsupportedMediaType });
    expect(problem.detail).toMatch(detail);
  });
});

describe('readJsonBody: 413', () => {
  it('refuses a body over the limit, naming both sizes', () => {
    // Act
    const problem = problemOf(read('{"a":"12345"}', JSON_TYPE, 10));

    // Assess
    expect(problem).toMatchObject({ status: 413, type: ProblemType.payloadTooLarge });
    expect(problem.detail).toMatch(/13 bytes; at most 10/);
  });

  it('uses 1 MiB by default', () => {
    // Act
    const problem = problemOf(read(`"${'x'.repeat(DEFAULT_MAX_BODY_BYTES - 1)}"`));

    // Assess
    expect(DEFAULT_MAX_BODY_BYTES).toBe(1024 * 1024);
    expect(problem.status).toBe(413);
  });
});

describe('readJsonBody: 400', () => {
  it.each([
    ['a lone continuation byte', [0x7b, 0x22, 0x80, 0x22, 0x7d], 2],
    ['an overlong encoding', [0x7b, 0xc0, 0xaf, 0x7d], 1],
    ['an encoded surrogate', [0x22, 0xed, 0xa0, 0x80, 0x22], 1],
    ['a truncated sequence at the end', [0x22, 0xe2, 0x82], 1],
    ['0xFF', [0xff], 0],
  ])('refuses invalid UTF-8 (%s) naming the offset', (_name, bytes, offset) => {
    // Act
    const problem = problemOf(read(Uint8Array.from(bytes)));

    // Assess
    expect(problem).toMatchObject({ status: 400, type: ProblemType.validation });
    expect(problem.detail).toMatch(new RegExp(`not valid UTF-8: byte 0x[0-9a-f]{2} at offset ${offset}`));
    expect(problem.errors).toEqual([{ path: '', message: problem.detail }]);
  });

  it.each([
    ['no bytes', Buffer.alloc(0)],
    ['only a BOM', Buffer.from([0xef, 0xbb, 0xbf])],
    ['only whitespace', Buffer.from(' \r\n\t ')],
  ])('refuses an empty body (%s)', (_name, body) => {
    // Act
    const problem = problemOf(read(body));

    // Assess
    expect(problem.status).toBe(400);
    expect(problem.detail).toMatch(/body is empty/);
  });

  it('names line, column and byte offset of a syntax error', () => {
    // Prepare
    const text = '{\n  "a": 1,\n  "b": }';

    // Act
    const problem = problemOf(read(text));

    // Assess
    expect(problem.status).toBe(400);
    expect(problem.position).toEqual({ line: 3, column: 8, offset: 19 });
    expect(problem.detail).toBe(
      'The body is not valid JSON at line 3, column 8 (byte 19): expected a value, found "}"',
    );
  });

  it('counts columns in characters and offsets in bytes, BOM included', () => {
    // Prepare: "é" is 2 bytes, "漢" 3 bytes, the BOM 3 bytes
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"é漢": x}')]);

    // Act
    const problem = problemOf(read(body));

    // Assess
    expect(problem.position).toEqual({ line: 1, column: 8, offset: 3 + 10 });
  });

  it.each([
    ['a trailing comma', '{"a":1,}', 7, /property name in double quotes \(no trailing comma/],
    ['single quotes', "{'a':1}", 1, /property name in double quotes or "}"/],
    ['a missing colon', '{"a" 1}', 5, /expected ":"/],
    ['a missing comma', '[1 2]', 3, /expected "," or "]"/],
    ['an unterminated string', '{"a":"b', 7, /ends inside a string/],
    ['an unclosed object', '{"a":1', 6, /ends inside an object/],
    ['trailing garbage', '{} x', 3, /after the end of the JSON value/],
    ['a bad literal', '[tru]', 4, /did you mean true/],
    ['a bad escape', '["\\x"]', 2, /invalid escape/],
    ['a raw control character in a string', '["a\tb"]', 3, /U\+0009 must be escaped/],
    ['a leading zero', '[01]', 2, /expected "," or "]"/],
    ['a bare minus', '[-]', 1, /invalid number/],
    ['NaN', '{"a": NaN}', 6, /expected a value/],
  ])('explains %s', (_name, text, index, message) => {
    // Act
    const problem = problemOf(read(text));

    // Assess
    expect(problem.position).toEqual({ line: 1, column: index + 1, offset: index });
    expect(problem.detail).toMatch(message);
  });

  it('refuses nesting deeper than 64 levels without recursing, naming where', () => {
    // Prepare
    const tooDeep = '['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1);
    const hostile = '{"a":'.repeat(200_000);

    // Act
    const problem = problemOf(read(tooDeep));
    const hostileProblem = problemOf(read(hostile));

    // Assess
    expect(problem.detail).toMatch(/nested more than 64 levels deep at line 1, column 65 \(byte 64\)/);
    expect(hostileProblem.detail).toMatch(/nested more than 64 levels/);
  });

  it('answers problem documents the HTTP layer can send as application/problem+json', () => {
    // Act
    const problem = problemOf(read('{'));

    // Assess
    expect(PROBLEM_CONTENT_TYPE).toBe('application/problem+json');
    expect(JSON.parse(JSON.stringify(problem))).toMatchObject({
      type: ProblemType.validation,
      title: expect.any(String),
      status: 400,
    });
  });
});

describe('the syntax and UTF-8 scanners agree with the platform', () => {
  const parses = (text: string) => {
    try {
      JSON.parse(text);
      return true;
    } catch {
      return false;
    }
  };
  const jsonish = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.stringMatching(/^[\s{}[\]":,\\0-9a-z.eE+-]{0,30}$/),
    fc.jsonValue().map((v) => JSON.stringify(v, null, 1)),
    fc
      .tuple(
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc.nat(),
        fc.constantFrom('', ',', '}', ']', '"', ':', '\\', ' ', 'x', '\n'),
      )
      .map(([text, at, insert]) => {
        const i = text.length === 0 ? 0 : at % text.length;
        return text.slice(0, i) + insert + text.slice(i + 1);
      }),
  );

  it('finds a syntax error exactly when JSON.parse fails, at a position inside the text', () => {
    fc.assert(
      fc.property(jsonish, (text) => {
        // Act
        const found = findJsonSyntaxError(text);

        // Assess
        expect(found === undefined).toBe(parses(text));
        if (found) {
          expect(found.index).toBeGreaterThanOrEqual(0);
          expect(found.index).toBeLessThanOrEqual(text.length);
          expect(found.message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('flags invalid UTF-8 exactly when the fatal TextDecoder refuses it', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 12 }),
      fc.string({ unit: 'binary' }).map((s) => {
        const b = Buffer.from(s, 'utf8');
        const middle = b.length >> 1;
        if (b.length > 0) b[middle] = b[middle]! ^ 0x40;
        return new Uint8Array(b);
      }),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        // Act
        let decodes = true;
        try {
          new TextDecoder('utf-8', { fatal: true }).decode(b);
        } catch {
          decodes = false;
        }

        // Assess
        expect(firstInvalidUtf8(b) === undefined).toBe(decodes);
      }),
      { numRuns: 5000 },
    );
  });

  it('never throws on arbitrary bytes and content types', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.option(fc.string()), (body, contentType) => {
        // Act
        const result = readJsonBody({ contentType, body });

        // Assess
        if (!result.ok) expect([400, 413, 415]).toContain(result.problem.status);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('readBodyBounded: stops reading at the limit', () => {
  const MiB = 1024 * 1024;

  /** A request whose body is `total` bytes in 64 KiB chunks, made only when asked for; counts what was read. */
  function streamed(total: number, headers: Record<string, string> = {}) {
    const counter = { pulled: 0, cancelled: false };
    const chunk = 64 * 1024;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (counter.pulled >= total) return controller.close();
          const size = Math.min(chunk, total - counter.pulled);
          counter.pulled += size;
          controller.enqueue(new Uint8Array(size).fill(0x20));
        },
        cancel() {
          counter.cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    return { counter, request: { headers: new Headers(headers), body } };
  }

  it('a 50 MiB body without a length is read only up to the limit and one chunk, then cancelled', async () => {
    const { counter, request } = streamed(50 * MiB);
    expect(await readBodyBounded(request, MiB)).toBe('too-large');
    expect(counter.pulled).toBeLessThanOrEqual(MiB + 64 * 1024);
    expect(counter.cancelled).toBe(true);
  });

  it('a declared Content-Length over the limit is refused without reading a byte', async () => {
    const { counter, request } = streamed(50 * MiB, { 'content-length': String(50 * MiB) });
    expect(await readBodyBounded(request, MiB)).toBe('too-large');
    expect(counter.pulled).toBe(0);
  });

  it('a body that claims to be small but is not is still cut at the limit', async () => {
    const { counter, request } = streamed(50 * MiB, { 'content-length': '10' });
    expect(await readBodyBounded(request, MiB)).toBe('too-large');
    expect(counter.pulled).toBeLessThanOrEqual(MiB + 64 * 1024);
  });

  it('a body at the limit is read whole; no body is empty', async () => {
    const { request } = streamed(MiB);
    const body = await readBodyBounded(request, MiB);
    expect(Buffer.isBuffer(body) && body.length).toBe(MiB);
    expect(await readBodyBounded({ headers: new Headers(), body: null }, MiB)).toEqual(Buffer.alloc(0));
  });

  it('the host may buffer what intake takes, with headroom, and no more than its own 100 MB default', () => {
    expect(HOST_REQUEST_BODY_LIMIT_BYTES).toBeGreaterThan(MAX_BATCH_BODY_BYTES);
    expect(HOST_REQUEST_BODY_LIMIT_BYTES).toBeLessThan(104_857_600);
  });
});
