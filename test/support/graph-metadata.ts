import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Reads Graph's CSDL metadata (the `cleanMetadata.xml` form of `microsoftgraph/msgraph-metadata`): the
 * entity, complex and enum types the service sends and reads, with inheritance resolved. Used by the
 * schema tests against the extract in test/fixtures/graph-metadata, and to make that extract again:
 *
 *   npm run build && node dist/test/support/graph-metadata.js <cleanMetadata.xml> <out.xml> <source note>
 *
 * The CSDL is regular (one element per line, attributes in double quotes), so a small reader is enough;
 * it refuses anything it does not understand rather than guess.
 */

export interface MetadataType {
  kind: 'EntityType' | 'ComplexType';
  name: string;
  baseType?: string;
  abstract: boolean;
  openType: boolean;
  /** Structural properties: name → type (`Edm.String`, `graph.chatType`, `Collection(Edm.String)`). */
  properties: Map<string, string>;
  navigationProperties: Map<string, string>;
}

export interface MetadataSchema {
  types: Map<string, MetadataType>;
  enums: Map<string, string[]>;
}

const TYPE_ELEMENT = /<(EntityType|ComplexType) ([^>]*?)(\/>|>([\s\S]*?)<\/\1>)/g;
const ENUM_ELEMENT = /<EnumType ([^>]*?)>([\s\S]*?)<\/EnumType>/g;

function attributes(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const match of text.matchAll(/([A-Za-z]+)="([^"]*)"/g)) out[match[1]!] = match[2]!;
  return out;
}

export function parseMetadata(xml: string): MetadataSchema {
  const types = new Map<string, MetadataType>();
  for (const match of xml.matchAll(TYPE_ELEMENT)) {
    const attrs = attributes(match[2]!);
    const name = attrs.Name;
    if (!name) throw new Error(`a ${match[1]} without a Name: ${match[0].slice(0, 80)}`);
    const type: MetadataType = {
      kind: match[1] as MetadataType['kind'],
      name,
      baseType: attrs.BaseType?.replace(/^graph\./, ''),
      abstract: attrs.Abstract === 'true',
      openType: attrs.OpenType === 'true',
      properties: new Map(),
      navigationProperties: new Map(),
    };
    for (const child of (match[4] ?? '').matchAll(/<(Property|NavigationProperty) ([^>]*?)\/>/g)) {
      const a = attributes(child[2]!);
      if (!a.Name || !a.Type) throw new Error(`a ${child[1]} without Name or Type in ${name}`);
      (child[1] === 'Property' ? type.properties : type.navigationProperties).set(a.Name, a.Type);
    }
    types.set(name, type);
  }
  const enums = new Map<string, string[]>();
  for (const match of xml.matchAll(ENUM_ELEMENT)) {
    const name = attributes(match[1]!).Name;
    if (!name) throw new Error('an EnumType without a Name');
    enums.set(
      name,
      [...match[2]!.matchAll(/<Member ([^>]*?)\/>/g)].map((m) => attributes(m[1]!).Name ?? ''),
    );
  }
  return { types, enums };
}

/** A type with everything it inherits: properties and navigation properties of its base types too. */
export function resolvedType(schema: MetadataSchema, name: string): MetadataType {
  const type = schema.types.get(name.replace(/^#?(microsoft\.)?graph\./, ''));
  if (!type) throw new Error(`type '${name}' is not in the metadata extract`);
  if (!type.baseType) return type;
  const base = resolvedType(schema, type.baseType);
  return {
    ...type,
    properties: new Map([...base.properties, ...type.properties]),
    navigationProperties: new Map([...base.navigationProperties, ...type.navigationProperties]),
  };
}

/** Every type deriving from `name` (itself included), for `@odata.type` checks. */
function isSameOrDerived(schema: MetadataSchema, candidate: string, name: string): boolean {
  for (let current: string | undefined = candidate; current; current = schema.types.get(current)?.baseType) {
    if (current === name) return true;
  }
  return false;
}

const EDM_CHECKS: Record<string, (value: unknown) => boolean> = {
  'Edm.String': (v) => typeof v === 'string',
  'Edm.Boolean': (v) => typeof v === 'boolean',
  'Edm.Int32': (v) => typeof v === 'number' && Number.isInteger(v),
  'Edm.DateTimeOffset': (v) =>
    typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v),
};

/** Instance annotations a payload may carry beside its properties (responses: context, paging). */
const RESPONSE_ANNOTATIONS = new Set(['@odata.context', '@odata.nextLink', '@odata.count', '@odata.etag']);

/**
 * Every way `value` does not fit `typeName` in the schema: unknown properties, wrong Edm types, enum
 * values the enum does not have, an `@odata.type` that is not the type or one derived from it, an
 * abstract type without one, and `x@odata.bind` where `x` is not a navigation property. Empty: it fits.
 */
export function conformanceProblems(
  schema: MetadataSchema,
  value: unknown,
  typeName: string,
  path = '',
  options: { response?: boolean } = {},
): string[] {
  const problems: string[] = [];
  const collection = /^Collection\((.+)\)$/.exec(typeName);
  if (collection) {
    if (!Array.isArray(value)) return [`${path}: expected an array of ${collection[1]}`];
    value.forEach((item, i) =>
      problems.push(...conformanceProblems(schema, item, collection[1]!, `${path}[${i}]`, options)),
    );
    return problems;
  }
  if (value === null) return [];
  const edm = EDM_CHECKS[typeName];
  if (edm) return edm(value) ? [] : [`${path}: ${JSON.stringify(value)} is not ${typeName}`];
  if (typeName.startsWith('Edm.')) return [`${path}: ${typeName} is not checked by this reader`];
  const name = typeName.replace(/^graph\./, '');
  const members = schema.enums.get(name);
  if (members) {
    return typeof value === 'string' && members.includes(value)
      ? []
      : [`${path}: ${JSON.stringify(value)} is not a member of ${name} (${members.join(', ')})`];
  }
  if (value === undefined || typeof value !== 'object' || Array.isArray(value)) {
    return [`${path}: expected an object of type ${name}`];
  }
  const object = value as Record<string, unknown>;
  let actual = name;
  const declared = object['@odata.type'];
  if (declared !== undefined) {
    const declaredName = typeof declared === 'string' ? declared.replace(/^#(microsoft\.graph\.)?/, '') : '';
    if (typeof declared !== 'string' || !declared.startsWith('#microsoft.graph.') || !schema.types.has(declaredName)) {
      return [`${path}: @odata.type ${JSON.stringify(declared)} is not a type of the extract`];
    }
    if (!isSameOrDerived(schema, declaredName, name)) {
      return [`${path}: @odata.type ${declared} does not derive from ${name}`];
    }
    actual = declaredName;
  }
  const type = resolvedType(schema, actual);
  if (type.abstract) problems.push(`${path}: ${actual} is abstract; the payload must name a concrete @odata.type`);
  for (const [key, item] of Object.entries(object)) {
    const at = path ? `${path}.${key}` : key;
    if (key === '@odata.type') continue;
    if (options.response && RESPONSE_ANNOTATIONS.has(key)) continue;
    const bind = /^(.+)@odata\.bind$/.exec(key);
    if (bind) {
      if (!type.navigationProperties.has(bind[1]!))
        problems.push(`${at}: ${actual} has no navigation property '${bind[1]}'`);
      else if (typeof item !== 'string') problems.push(`${at}: a bind must be a URL string`);
      continue;
    }
    const propertyType = type.properties.get(key) ?? type.navigationProperties.get(key);
    if (!propertyType) {
      problems.push(`${at}: '${key}' is not a property of ${actual}`);
      continue;
    }
    problems.push(...conformanceProblems(schema, item, propertyType, at, options));
  }
  return problems;
}

/** The element texts of the named types and enums, verbatim, in the order asked. */
export function extractElements(xml: string, names: string[]): string[] {
  const found = new Map<string, string>();
  for (const match of xml.matchAll(TYPE_ELEMENT)) {
    const name = attributes(match[2]!).Name;
    if (name && names.includes(name)) found.set(name, match[0]);
  }
  for (const match of xml.matchAll(ENUM_ELEMENT)) {
    const name = attributes(match[1]!).Name;
    if (name && names.includes(name)) found.set(name, match[0]);
  }
  const missing = names.filter((n) => !found.has(n));
  if (missing.length > 0) throw new Error(`not in the metadata: ${missing.join(', ')}`);
  return names.map((n) => found.get(n)!);
}

/** The types the service sends and reads, and what they refer to. */
export const EXTRACTED_NAMES = [
  'entity',
  'chat',
  'conversationMember',
  'aadUserConversationMember',
  'teamsAppInstallation',
  'teamsApp',
  'teamsAppPermissionSet',
  'teamsAppResourceSpecificPermission',
  'teamsAsyncOperation',
  'operationError',
  'chatViewpoint',
  'teamworkOnlineMeetingInfo',
  'teamworkUserIdentity',
  'identity',
  'chatType',
  'teamsAsyncOperationType',
  'teamsAsyncOperationStatus',
  'teamsAppResourceSpecificPermissionType',
  'teamsAppDistributionMethod',
  'teamworkUserIdentityType',
  'migrationMode',
];

if (require.main === module) {
  const [input, output, note] = process.argv.slice(2);
  if (!input || !output || !note) {
    console.error('usage: graph-metadata.js <cleanMetadata.xml> <out.xml> "<source: repo, path, commit>"');
    process.exit(2);
  }
  const xml = readFileSync(input, 'utf8');
  const present = EXTRACTED_NAMES.filter((n) => new RegExp(`<(EntityType|ComplexType|EnumType) Name="${n}"`).test(xml));
  const body = extractElements(xml, present)
    .map((e) => `    ${e}`)
    .join('\n');
  writeFileSync(
    output,
    `<?xml version="1.0" encoding="utf-8"?>\n<!-- ${note} -->\n<Schema Namespace="microsoft.graph" Alias="graph" xmlns="http://docs.oasis-open.org/odata/ns/edm">\n${body}\n</Schema>\n`,
  );
  console.log(`${present.length} elements written to ${output}`);
}
