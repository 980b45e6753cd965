/**
 * ASP.NET Core route templates as the Functions host uses them: `requests/{id:guid}`, `files/{name}.{ext?}`,
 * optional `{id?}`, defaults `{page=1}`, catch-all `{*rest}`, inline constraints.
 */

export interface RouteParameter {
  kind: 'parameter';
  name: string;
  optional: boolean;
  catchAll: boolean;
  defaultValue?: string;
  constraints: RouteConstraint[];
}

export interface RouteLiteral {
  kind: 'literal';
  text: string;
}

export type RoutePart = RouteLiteral | RouteParameter;

export interface RouteTemplate {
  template: string;
  segments: RoutePart[][];
}

export interface RouteConstraint {
  name: string;
  argument?: string;
  /** false for constraints the local host does not know; they accept every value. */
  known: boolean;
  accepts(value: string): boolean;
}

const int32 = { min: -2147483648n, max: 2147483647n };
const int64 = { min: -9223372036854775808n, max: 9223372036854775807n };
const integerPattern = /^[+-]?\d+$/;
const numberPattern = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const guidPatterns = [
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  /^[0-9a-f]{32}$/i,
  /^\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}$/i,
  /^\([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\)$/i,
];

function inRange(value: string, range: { min: bigint; max: bigint }): boolean {
  if (!integerPattern.test(value)) return false;
  const n = BigInt(value);
  return n >= range.min && n <= range.max;
}

function numericArguments(argument: string | undefined, count: number, name: string): number[] {
  const parts = (argument ?? '').split(',').map((part) => part.trim());
  const numbers = parts.map(Number);
  if (parts.length !== count || numbers.some((n) => !Number.isFinite(n))) {
    throw new Error(`route constraint "${name}" needs ${count} numeric argument(s), got "${argument ?? ''}"`);
  }
  return numbers;
}

/** Builds one inline constraint (`int`, `guid`, `length(3,8)`, `regex(^a+$)`...). */
export function routeConstraint(name: string, argument?: string): RouteConstraint {
  const known = (accepts: (value: string) => boolean): RouteConstraint => ({ name, argument, known: true, accepts });
  switch (name.toLowerCase()) {
    case 'int':
      return known((v) => inRange(v, int32));
    case 'long':
      return known((v) => inRange(v, int64));
    case 'bool':
      return known((v) => /^(true|false)$/i.test(v));
    case 'decimal':
    case 'double':
    case 'float':
      return known((v) => numberPattern.test(v));
    case 'datetime':
      return known((v) => !Number.isNaN(Date.parse(v)));
    case 'guid':
      return known((v) => guidPatterns.some((pattern) => pattern.test(v)));
    case 'alpha':
      return known((v) => /^[a-z]+$/i.test(v));
    case 'required':
      return known((v) => v.length > 0);
    case 'minlength': {
      const [min] = numericArguments(argument, 1, name) as [number];
      return known((v) => v.length >= min);
    }
    case 'maxlength': {
      const [max] = numericArguments(argument, 1, name) as [number];
      return known((v) => v.length <= max);
    }
    case 'length': {
      const bounds = (argument ?? '').includes(',')
        ? numericArguments(argument, 2, name)
        : numericArguments(argument, 1, name);
      const [min, max = min] = bounds as [number, number?];
      return known((v) => v.length >= min && v.length <= max);
    }
    case 'min': {
      const [min] = numericArguments(argument, 1, name) as [number];
      return known((v) => inRange(v, int64) && Number(v) >= min);
    }
    case 'max': {
      const [max] = numericArguments(argument, 1, name) as [number];
      return known((v) => inRange(v, int64) && Number(v) <= max);
    }
    case 'range': {
      const [min, max] = numericArguments(argument, 2, name) as [number, number];
      return known((v) => inRange(v, int64) && Number(v) >= min && Number(v) <= max);
    }
    case 'regex': {
      // ASP.NET matches the pattern unanchored and case-insensitively.
      const pattern = new RegExp(argument ?? '', 'i');
      return known((v) => pattern.test(v));
    }
    default:
      return { name, argument, known: false, accepts: () => true };
  }
}

/** Splits `name:c1:c2(arg)=default` at top-level separators (not inside a constraint's parentheses). */
function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth = Math.max(0, depth - 1);
    if (ch === separator && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

function parseParameter(body: string, template: string): RouteParameter {
  let text = body.trim();
  let catchAll = false;
  if (text.startsWith('**')) {
    catchAll = true;
    text = text.slice(2);
  } else if (text.startsWith('*')) {
    catchAll = true;
    text = text.slice(1);
  }
  const [head = '', ...defaults] = splitTopLevel(text, '=');
  let optional = false;
  let nameAndConstraints = head;
  if (defaults.length === 0 && nameAndConstraints.endsWith('?')) {
    optional = true;
    nameAndConstraints = nameAndConstraints.slice(0, -1);
  }
  const defaultValue = defaults.length > 0 ? defaults.join('=') : undefined;
  const [name = '', ...constraintTexts] = splitTopLevel(nameAndConstraints, ':');
  if (!/^[A-Za-z_][\w-]*$/.test(name)) throw new Error(`route "${template}": invalid parameter name "${name}"`);
  const constraints = constraintTexts.map((constraintText) => {
    const match = /^([A-Za-z]\w*)(?:\((.*)\))?$/s.exec(constraintText);
    if (!match) throw new Error(`route "${template}": invalid constraint "${constraintText}"`);
    return routeConstraint(match[1] as string, match[2]);
  });
  return { kind: 'parameter', name, optional, catchAll, defaultValue, constraints };
}

function parseSegment(segment: string, template: string): RoutePart[] {
  const parts: RoutePart[] = [];
  let literal = '';
  let i = 0;
  while (i < segment.length) {
    const ch = segment[i] as string;
    if (ch === '{' && segment[i + 1] === '{') {
      literal += '{';
      i += 2;
    } else if (ch === '}' && segment[i + 1] === '}') {
      literal += '}';
      i += 2;
    } else if (ch === '{') {
      let body = '';
      let j = i + 1;
      for (; j < segment.length; j++) {
        if ((segment[j] === '}' || segment[j] === '{') && segment[j + 1] === segment[j]) {
          body += segment[j];
          j++;
        } else if (segment[j] === '}') {
          break;
        } else {
          body += segment[j];
        }
      }
      if (j >= segment.length) throw new Error(`route "${template}": unclosed "{" in segment "${segment}"`);
      if (literal) parts.push({ kind: 'literal', text: literal });
      literal = '';
      parts.push(parseParameter(body, template));
      i = j + 1;
    } else if (ch === '}') {
      throw new Error(`route "${template}": unmatched "}" in segment "${segment}"`);
    } else {
      literal += ch;
      i++;
    }
  }
  if (literal) parts.push({ kind: 'literal', text: literal });
  return parts;
}

/** Parses a full template (route prefix already joined). */
export function parseRouteTemplate(template: string): RouteTemplate {
  const trimmed = template.replace(/^~?\/+/, '').replace(/\/+$/, '');
  const segments = trimmed === '' ? [] : trimmed.split('/').map((segment) => parseSegment(segment, template));
  segments.forEach((parts, index) => {
    if (parts.length === 0) throw new Error(`route "${template}": empty segment`);
    parts.forEach((part) => {
      if (part.kind === 'parameter' && part.catchAll && (index !== segments.length - 1 || parts.length !== 1)) {
        throw new Error(`route "${template}": a catch-all parameter must be the whole last segment`);
      }
    });
  });
  return { template, segments };
}

/** Decodes one path segment the way ASP.NET routing sees it: percent-decoded, except an encoded "/". */
function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment.replace(/%2F/gi, '%252F'));
  } catch {
    return undefined;
  }
}

function isSkippable(parts: RoutePart[]): boolean {
  return (
    parts.length === 1 &&
    parts[0]?.kind === 'parameter' &&
    (parts[0].optional || parts[0].defaultValue !== undefined || parts[0].catchAll)
  );
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function matchComplexSegment(parts: RoutePart[], value: string, values: Record<string, string>): boolean {
  const pattern = parts
    .map((part) => (part.kind === 'literal' ? escapeRegExp(part.text) : part.optional ? '(.*?)' : '(.+?)'))
    .join('');
  const match = new RegExp(`^${pattern}$`, 'i').exec(value);
  if (!match) return false;
  let group = 1;
  for (const part of parts) {
    if (part.kind !== 'parameter') continue;
    const captured = match[group++] ?? '';
    if (captured === '') continue;
    if (!part.constraints.every((c) => c.accepts(captured))) return false;
    values[part.name] = captured;
  }
  return true;
}

/**
 * Matches a request path (without query, still percent-encoded, no leading slash needed) against a template.
 * Returns the route values, or undefined. Literals compare case-insensitively and a trailing slash is ignored.
 */
export function matchRoute(route: RouteTemplate, requestPath: string): Record<string, string> | undefined {
  const trimmed = requestPath.replace(/^\/+/, '').replace(/\/$/, '');
  const rawSegments = trimmed === '' ? [] : trimmed.split('/');
  const values: Record<string, string> = {};
  for (let index = 0; index < route.segments.length; index++) {
    const parts = route.segments[index] as RoutePart[];
    const single = parts.length === 1 ? parts[0] : undefined;
    if (single?.kind === 'parameter' && single.catchAll) {
      const rest = rawSegments.slice(index).map(decodeSegment);
      if (rest.some((segment) => segment === undefined)) return undefined;
      const value = rest.join('/');
      const effective = value === '' ? single.defaultValue : value;
      if (effective !== undefined) {
        if (!single.constraints.every((c) => c.accepts(effective))) return undefined;
        values[single.name] = effective;
      }
      return values;
    }
    const raw = rawSegments[index];
    if (raw === undefined) {
      if (!route.segments.slice(index).every(isSkippable)) return undefined;
      for (const remaining of route.segments.slice(index)) {
        const parameter = remaining[0] as RouteParameter;
        if (parameter.defaultValue !== undefined) values[parameter.name] = parameter.defaultValue;
      }
      return values;
    }
    const value = decodeSegment(raw);
    if (value === undefined || value === '') return undefined;
    if (single?.kind === 'literal') {
      if (single.text.toLowerCase() !== value.toLowerCase()) return undefined;
    } else if (single?.kind === 'parameter') {
      if (!single.constraints.every((c) => c.accepts(value))) return undefined;
      values[single.name] = value;
    } else if (!matchComplexSegment(parts, value, values)) {
      return undefined;
    }
  }
  return rawSegments.length > route.segments.length ? undefined : values;
}

/** The constraints in a template the local host does not know (they accept anything; worth a warning). */
export function unknownConstraints(route: RouteTemplate): string[] {
  return route.segments
    .flat()
    .flatMap((part) => (part.kind === 'parameter' ? part.constraints.filter((c) => !c.known).map((c) => c.name) : []));
}
