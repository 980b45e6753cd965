import type { z } from 'zod';
import { GRAPH_ROOT, graphCloudHost } from './binds';
import { parseIsoDateTime } from './date-time';
import { type FieldError, MAX_REPORTED_ERRORS } from './fields';
import { detectForm } from './form';
import { graphBodyFromCompactForm, graphBodyFromGraphForm } from './graph-body';
import { isObject } from './json';
import type { ParsedRequest, ParseOptions, ParseResult } from './parsed';
import { crossFieldErrors, localCallbackErrors } from './rules';
import { type CompactRequest, CompactRequestSchema, GraphRequestSchema } from './schemas';
import { kindOf, show } from './text';
import { resourceView } from './view';

/**
 * Parsing one provisioning request: the form, the shapes (zod), the cross-field rules, then the canonical
 * Graph body and its resource view. Every problem found is reported, up to MAX_REPORTED_ERRORS.
 */

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else {
      const key = String(part);
      if (/^[A-Za-z_$][\w$]*$/.test(key)) out += out === '' ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

/** zod issues as field errors; a union reports the branch whose type matched, unknown keys one error each. */
function toFieldErrors(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): FieldError[] {
  const errors: FieldError[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        errors.push({ path: formatPath([...path, key]), message: `Unknown field ${show(key)}: ${issue.message}` });
      }
    } else if (issue.code === 'invalid_union') {
      const matched = issue.errors.filter(
        (branch) => !branch.every((inner) => inner.code === 'invalid_type' && inner.path.length === 0),
      );
      if (matched.length === 1) errors.push(...toFieldErrors(matched[0]!, path));
      else errors.push({ path: formatPath(path), message: issue.message });
    } else {
      errors.push({ path: formatPath(path), message: issue.message });
    }
  }
  return errors;
}

function within(path: string, prefixes: readonly string[]): boolean {
  return prefixes.some((p) => path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`));
}

function capped(errors: FieldError[]): FieldError[] {
  if (errors.length <= MAX_REPORTED_ERRORS) return errors;
  return [
    ...errors.slice(0, MAX_REPORTED_ERRORS),
    {
      path: '',
      message: `...and ${errors.length - MAX_REPORTED_ERRORS} more problems (only the first ${MAX_REPORTED_ERRORS} are listed)`,
    },
  ];
}

/** Parses one provisioning request (either form); on failure lists every problem found. */

export function parseProvisioningRequest(body: unknown, now: Date, options: ParseOptions = {}): ParseResult {
  if (!isObject(body)) {
    return {
      ok: false,
      errors: [{ path: '', message: `The body must be a JSON object (a chat request); got ${kindOf(body)}` }],
    };
  }
  const { form, errors: formErrors, mixed } = detectForm(body);
  const schema = form === 'graph' ? GraphRequestSchema : CompactRequestSchema;
  const parsed = schema.safeParse(body);
  const shapeErrors = parsed.success ? [] : toFieldErrors(parsed.error.issues).filter((e) => !within(e.path, mixed));
  const errors = [
    ...formErrors,
    ...shapeErrors,
    ...crossFieldErrors(body, form, now, options),
    ...localCallbackErrors(body, options),
  ];
  if (errors.length > 0 || !parsed.success) {
    return { ok: false, errors: capped(errors.length > 0 ? errors : [{ path: '', message: 'The body is not valid' }]) };
  }

  const root = options.graphBaseUrl === undefined ? GRAPH_ROOT : `https://${graphCloudHost(options.graphBaseUrl)}`;
  const graphBody =
    form === 'graph' ? graphBodyFromGraphForm(body) : graphBodyFromCompactForm(parsed.data as CompactRequest, root);
  const value: ParsedRequest = { graphBody, ...resourceView(graphBody) };
  const data = parsed.data as { externalId?: string; callbackUrl?: string; notBefore?: string };
  if (data.externalId !== undefined) value.externalId = data.externalId;
  if (data.callbackUrl !== undefined) value.callbackUrl = data.callbackUrl;
  if (data.notBefore !== undefined) value.notBefore = new Date(parseIsoDateTime(data.notBefore)!).toISOString();
  return { ok: true, value };
}
