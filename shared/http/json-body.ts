import { Problem, ProblemType, problem } from './problem';

/**
 * Reads an HTTP JSON body safely: media type, size, UTF-8, nesting depth and syntax are checked in
 * that order, each with its own answer (415, 413, 400), and a syntax error names line, column and
 * byte offset found by our own scan (V8's message format differs between Node versions).
 */

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const MAX_JSON_DEPTH = 64;
/** The largest body intake takes: a batch (`POST /api/requests/batch`). One request: DEFAULT_MAX_BODY_BYTES. */
export const MAX_BATCH_BODY_BYTES = 16 * 1024 * 1024;
/**
 * What the Functions host itself may buffer (its FUNCTIONS_REQUEST_BODY_SIZE_LIMIT app setting; the host's
 * own default is 100 MB): intake's largest body plus headroom, so a body a little over 16 MiB still gets
 * the service's own 413 problem, and anything far over it is refused by the host before the code runs.
 * infra/app/api.bicep, local.settings.sample.json and the local run set this value.
 */
export const HOST_REQUEST_BODY_LIMIT_BYTES = 20 * 1024 * 1024;

/** What readBodyBounded needs of a request: @azure/functions' HttpRequest has both. */
export interface StreamedRequest {
  headers: { get(name: string): string | null };
  body: ReadableStream<Uint8Array> | null;
}

/**
 * Reads a request body, but never more than `maxBytes` + one chunk of it: a declared Content-Length over
 * the limit is refused without reading, and a body that grows past it (chunked, or a false length) stops
 * being read at the chunk that crosses the limit; the rest is cancelled, not drained.
 */
export async function readBodyBounded(request: StreamedRequest, maxBytes: number): Promise<Buffer | 'too-large'> {
  const declared = request.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > maxBytes) return 'too-large';
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => undefined);
        return 'too-large';
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks, size);
}

export interface JsonBodyInput {
  contentType: string | null;
  body: Buffer | Uint8Array;
  /** Default 1 MiB. */
  maxBytes?: number;
}

export type JsonBodyResult = { ok: true; value: unknown } | { ok: false; problem: Problem };

export interface TextPosition {
  /** 1-based. */
  line: number;
  /** 1-based, in characters (code points) from the start of the line. */
  column: number;
  /** 0-based byte offset into the body as received (a BOM counts). */
  offset: number;
}

const UTF8_BOM = [0xef, 0xbb, 0xbf] as const;

export function readJsonBody(input: JsonBodyInput): JsonBodyResult {
  const maxBytes = input.maxBytes ?? DEFAULT_MAX_BODY_BYTES;
  const mediaProblem = checkContentType(input.contentType);
  if (mediaProblem) return fail(415, 'Unsupported media type', mediaProblem, ProblemType.unsupportedMediaType);

  const bytes = input.body;
  if (bytes.byteLength > maxBytes) {
    return fail(
      413,
      'The request body is too large',
      `The body has ${bytes.byteLength} bytes; at most ${maxBytes} are accepted (send large sets through /api/requests/batch in parts)`,
      ProblemType.payloadTooLarge,
    );
  }

  let text: string;
  try {
    // ignoreBOM keeps a leading BOM in the text, so exactly one is stripped below and offsets stay right.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    const where = at === undefined ? '' : `: byte 0x${bytes[at]!.toString(16).padStart(2, '0')} at offset ${at}`;
    return invalid(`The body is not valid UTF-8${where}; send JSON encoded as UTF-8`);
  }
  const bomBytes = hasBom(bytes) ? UTF8_BOM.length : 0;
  if (bomBytes > 0) text = text.slice(1);

  if (/^[ \t\r\n]*$/.test(text)) return invalid('The body is empty; send a JSON object');

  const tooDeep = firstTooDeep(text, MAX_JSON_DEPTH);
  if (tooDeep !== undefined) {
    const position = positionOf(text, tooDeep, bomBytes);
    return invalid(
      `The JSON is nested more than ${MAX_JSON_DEPTH} levels deep at ${describePosition(position)}`,
      position,
    );
  }

  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    const found = findJsonSyntaxError(text) ?? fromEngineMessage(error);
    if (!found) return invalid(`The body is not valid JSON: ${(error as Error).message}`);
    const position = positionOf(text, found.index, bomBytes);
    return invalid(`The body is not valid JSON at ${describePosition(position)}: ${found.message}`, position);
  }
}

function fail(status: number, title: string, detail: string, type: ProblemType): JsonBodyResult {
  return { ok: false, problem: problem(status, title, { type, detail }) };
}

function invalid(message: string, position?: TextPosition): JsonBodyResult {
  return {
    ok: false,
    problem: problem(400, 'The request body is not valid JSON', {
      type: ProblemType.validation,
      detail: message,
      errors: [{ path: '', message }],
      ...(position ? { position } : {}),
    }),
  };
}

/** Why the content type is not JSON in UTF-8, or undefined when it is. */
export function checkContentType(contentType: string | null): string | undefined {
  const expected = 'send Content-Type: application/json (or application/*+json) in UTF-8';
  if (contentType === null || contentType.trim() === '') return `The request has no Content-Type; ${expected}`;
  const [mediaType = '', ...params] = contentType.split(';');
  const type = mediaType.trim().toLowerCase();
  if (type !== 'application/json' && !/^application\/[a-z0-9!#$&^_.+-]+\+json$/.test(type)) {
    return `Content-Type ${JSON.stringify(type)} is not supported; ${expected}`;
  }
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0) continue;
    if (param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const charset = param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8')
      return `charset ${JSON.stringify(charset)} is not supported; ${expected}`;
  }
  return undefined;
}

function hasBom(bytes: Uint8Array): boolean {
  return bytes[0] === UTF8_BOM[0] && bytes[1] === UTF8_BOM[1] && bytes[2] === UTF8_BOM[2];
}

/** Offset of the first byte that starts an ill-formed UTF-8 sequence (Unicode table 3-7), if any. */
export function firstInvalidUtf8(bytes: Uint8Array): number | undefined {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      const min = k === 1 ? lo : 0x80;
      const max = k === 1 ? hi : 0xbf;
      if (c === undefined || c < min || c > max) return i;
    }
    i += need + 1;
  }
  return undefined;
}

/** Index of the first `[` or `{` that opens level `maxDepth + 1`, outside strings; one pass, no recursion. */
export function firstTooDeep(text: string, maxDepth: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return i;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return undefined;
}

export function positionOf(text: string, index: number, bomBytes = 0): TextPosition {
  const lineStart = text.lastIndexOf('\n', index - 1) + 1;
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) line++;
  let column = 1;
  for (const _ of text.slice(lineStart, index)) column++;
  return { line, column, offset: bomBytes + Buffer.byteLength(text.slice(0, index), 'utf8') };
}

function describePosition(p: TextPosition): string {
  return `line ${p.line}, column ${p.column} (byte ${p.offset})`;
}

function fromEngineMessage(error: unknown): { index: number; message: string } | undefined {
  const m = /position (\d+)/.exec(String((error as Error)?.message));
  return m ? { index: Number(m[1]), message: (error as Error).message } : undefined;
}

function describeChar(text: string, index: number): string {
  const code = text.codePointAt(index) ?? 0;
  return code < 0x20 || code === 0x7f
    ? `the control character U+${code.toString(16).toUpperCase().padStart(4, '0')}`
    : `"${String.fromCodePoint(code)}"`;
}

type Expect = 'value' | 'valueOrEnd' | 'keyOrEnd' | 'key' | 'colon' | 'commaOrEnd' | 'eof';

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;

/**
 * Where and why `text` is not JSON (RFC 8259), or undefined when it is. Iterative, so hostile
 * nesting cannot exhaust the stack; used only after JSON.parse has failed.
 */
export function findJsonSyntaxError(text: string): { index: number; message: string } | undefined {
  const n = text.length;
  const stack: string[] = [];
  let expect: Expect = 'value';
  let i = 0;
  const after = (): Expect => (stack.length > 0 ? 'commaOrEnd' : 'eof');
  const err = (index: number, message: string) => ({ index, message });

  const scanString = (start: number): number | { index: number; message: string } => {
    for (let j = start + 1; j < n; j++) {
      const c = text.charCodeAt(j);
      if (c === 0x22) return j + 1;
      if (c < 0x20) return err(j, `${describeChar(text, j)} must be escaped inside a string`);
      if (c === 0x5c) {
        const e = text[j + 1];
        if (e !== undefined && '"\\/bfnrt'.includes(e)) j++;
        else if (e === 'u' && HEX4.test(text.slice(j + 2, j + 6))) j += 5;
        else if (e === undefined) break;
        else return err(j, `invalid escape sequence "\\${e}" in a string`);
      }
    }
    return err(n, 'the input ends inside a string (a closing " is missing)');
  };

  for (;;) {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
    if (i >= n) {
      if (expect === 'eof') return undefined;
      const open = stack.at(-1);
      return err(
        n,
        open
          ? `the input ends inside an ${open === '{' ? 'object (a "}" is missing)' : 'array (a "]" is missing)'}`
          : 'the input ends where a value was expected',
      );
    }
    const c = text[i]!;
    switch (expect) {
      case 'eof':
        return err(i, `unexpected ${describeChar(text, i)} after the end of the JSON value`);
      case 'colon':
        if (c !== ':') return err(i, `expected ":" after the property name, found ${describeChar(text, i)}`);
        i++;
        expect = 'value';
        continue;
      case 'commaOrEnd': {
        const close = stack.at(-1) === '{' ? '}' : ']';
        if (c === ',') {
          i++;
          expect = close === '}' ? 'key' : 'value';
        } else if (c === close) {
          stack.pop();
          i++;
          expect = after();
        } else return err(i, `expected "," or "${close}", found ${describeChar(text, i)}`);
        continue;
      }
      case 'keyOrEnd':
      case 'key': {
        if (c === '}' && expect === 'keyOrEnd') {
          stack.pop();
          i++;
          expect = after();
          continue;
        }
        if (c !== '"') {
          return err(
            i,
            `expected a property name in double quotes${expect === 'keyOrEnd' ? ' or "}"' : ' (no trailing comma is allowed)'}, found ${describeChar(text, i)}`,
          );
        }
        const end = scanString(i);
        if (typeof end !== 'number') return end;
        i = end;
        expect = 'colon';
        continue;
      }
      case 'valueOrEnd':
      case 'value': {
        if (c === ']' && expect === 'valueOrEnd') {
          stack.pop();
          i++;
          expect = after();
          continue;
        }
        if (c === '{' || c === '[') {
          stack.push(c);
          i++;
          expect = c === '{' ? 'keyOrEnd' : 'valueOrEnd';
          continue;
        }
        if (c === '"') {
          const end = scanString(i);
          if (typeof end !== 'number') return end;
          i = end;
          expect = after();
          continue;
        }
        if (c === '-' || (c >= '0' && c <= '9')) {
          NUMBER.lastIndex = i;
          const m = NUMBER.exec(text);
          if (!m) return err(i, 'invalid number');
          i += m[0].length;
          expect = after();
          continue;
        }
        const literal = ['true', 'false', 'null'].find((word) => word[0] === c);
        if (literal) {
          for (let k = 0; k < literal.length; k++) {
            if (text[i + k] !== literal[k]) return err(i + k, `invalid literal; did you mean ${literal}?`);
          }
          i += literal.length;
          expect = after();
          continue;
        }
        return err(
          i,
          expect === 'valueOrEnd'
            ? `expected a value or "]", found ${describeChar(text, i)}`
            : `expected a value, found ${describeChar(text, i)}${c === "'" ? ' (strings need double quotes)' : ''}`,
        );
      }
    }
  }
}
