import type { FieldError } from './fields';
import { isObject, type JsonObject } from './json';

/**
 * Which of the two forms a body is written in. The members decide; a part written in the other form is
 * an error of its own, so a mixed body gets one clear message instead of a pile of shape errors.
 */

export type Form = 'graph' | 'compact';

const GRAPH_MEMBER_KEYS = ['@odata.type', 'roles', 'user@odata.bind'];
const COMPACT_MEMBER_KEYS = ['user', 'role'];

function memberForm(item: unknown): Form | undefined {
  if (typeof item === 'string') return 'compact';
  if (!isObject(item)) return undefined;
  if (GRAPH_MEMBER_KEYS.some((k) => Object.hasOwn(item, k))) return 'graph';
  if (COMPACT_MEMBER_KEYS.some((k) => Object.hasOwn(item, k))) return 'compact';
  return undefined;
}

const FORM_HINT: Record<Form, string> = {
  graph: 'the Graph form (aadUserConversationMember objects, installedApps)',
  compact: 'the compact form (user strings or {user, role} objects, apps)',
};

interface Signal {
  path: string;
  form: Form;
  what: string;
}

function memberSignal(item: unknown, i: number): Signal | undefined {
  const form = memberForm(item);
  if (form === undefined) return undefined;
  const what =
    form === 'graph'
      ? 'This member is a Graph member object (the Graph form)'
      : typeof item === 'string'
        ? 'This member is a string (the compact form)'
        : 'This member is a {user, role} object (the compact form)';
  return { path: `members[${i}]`, form, what };
}

/** Which form the body is written in, and an error for every part written in the other one. */
export function detectForm(body: JsonObject): { form: Form; errors: FieldError[]; mixed: string[] } {
  const members: unknown[] = Array.isArray(body.members) ? body.members : [];
  const memberSignals = members.map(memberSignal).filter((s): s is Signal => s !== undefined);
  const topSignals: Signal[] = [];
  if (Object.hasOwn(body, 'installedApps')) {
    topSignals.push({ path: 'installedApps', form: 'graph', what: '"installedApps" belongs to the Graph form' });
  }
  if (Object.hasOwn(body, 'apps')) {
    topSignals.push({ path: 'apps', form: 'compact', what: '"apps" belongs to the compact form' });
  }
  if (Object.hasOwn(body, '@odata.type')) {
    topSignals.push({ path: '["@odata.type"]', form: 'graph', what: '"@odata.type" belongs to the Graph form' });
  }

  // The members decide (most of them win, a tie goes to the first); without any, the top-level fields do.
  const voters = memberSignals.length > 0 ? memberSignals : topSignals;
  const graphVotes = voters.filter((s) => s.form === 'graph').length;
  const compactVotes = voters.length - graphVotes;
  const form: Form =
    graphVotes === compactVotes ? (voters[0]?.form ?? 'graph') : graphVotes > compactVotes ? 'graph' : 'compact';

  const all = [...memberSignals, ...topSignals];
  const example = all.find((s) => s.form === form);
  const errors: FieldError[] = [];
  const mixed: string[] = [];
  for (const signal of all) {
    if (signal.form === form) continue;
    mixed.push(signal.path);
    errors.push({
      path: signal.path,
      message: `${signal.what}, but the body is in ${FORM_HINT[form]}${example ? ` (see ${example.path})` : ''}; write the whole body in one form`,
    });
  }
  return { form, errors, mixed };
}
