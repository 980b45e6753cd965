import { COMPACT_EXAMPLE, GRAPH_EXAMPLE, buildOpenApiDocument } from '../../shared/http/openapi';
import { parseProvisioningRequest } from '../../shared/core/request/parse';

type Json = Record<string, unknown>;
const doc = buildOpenApiDocument() as unknown as Json;
const paths = doc.paths as Record<string, Record<string, Json>>;
const schemas = (doc.components as Json).schemas as Record<string, Json>;

function resolve(node: unknown): Json {
  const ref = (node as Json)?.$ref;
  if (typeof ref !== 'string') return node as Json;
  const name = ref.replace('#/components/schemas/', '');
  return schemas[name]!;
}

function allRefs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => allRefs(n, out));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') out.push(value);
      else allRefs(value, out);
    }
  }
  return out;
}

describe('buildOpenApiDocument', () => {
  it('is an OpenAPI 3.1 document that survives JSON', () => {
    // Assess
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: 'chat-provisioner', version: expect.any(String) });
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });

  it('describes every route of the API with its answers', () => {
    // Prepare
    const expected: Record<string, Record<string, string[]>> = {
      '/api/requests': {
        post: ['200', '202', '400', '401', '413', '415', '422', '503'],
        get: ['200', '400', '401', '503'],
      },
      '/api/requests/batch': { post: ['200', '400', '401', '413', '415', '503'] },
      '/api/requests/{id}': { get: ['200', '401', '404', '503'] },
      '/api/requests/{id}/retry': { post: ['202', '401', '404', '409', '503'] },
      '/api/ops/summary': { get: ['200', '401', '503'] },
      '/api/health': { get: ['200', '4XX', '503'] },
      '/api/openapi.json': { get: ['200', '4XX'] },
    };

    // Assess
    expect(Object.keys(paths).sort()).toEqual(Object.keys(expected).sort());
    for (const [path, methods] of Object.entries(expected)) {
      expect(Object.keys(paths[path]!).sort()).toEqual(Object.keys(methods).sort());
      for (const [method, statuses] of Object.entries(methods)) {
        const responses = paths[path]![method]!.responses as Record<string, Json>;
        expect(Object.keys(responses).sort()).toEqual(statuses.sort());
        for (const response of Object.values(responses)) expect(response.description).toEqual(expect.any(String));
      }
    }
  });

  it('answers errors as application/problem+json with the Problem schema', () => {
    // Act
    const responses = paths['/api/requests']!.post!.responses as Record<string, Json>;

    // Assess
    for (const status of ['400', '401', '413', '415', '422', '503']) {
      const content = responses[status]!.content as Json;
      expect(Object.keys(content)).toEqual(['application/problem+json']);
      expect(resolve((content['application/problem+json'] as Json).schema).properties).toHaveProperty('errors');
    }
  });

  it('documents Location, Idempotent-Replayed and the idempotency and webhook headers', () => {
    // Act
    const post = paths['/api/requests']!.post!;
    const responses = post.responses as Record<string, Json>;
    const headerNames = (post.parameters as Json[]).filter((p) => p.in === 'header').map((p) => p.name);

    // Assess
    expect(headerNames).toEqual(['Idempotency-Key', 'webhook-id', 'webhook-timestamp', 'webhook-signature']);
    expect(Object.keys(responses['202']!.headers as Json)).toEqual(['Location']);
    expect(Object.keys(responses['200']!.headers as Json)).toEqual(['Location', 'Idempotent-Replayed']);
  });

  it('the retry route takes the webhook signature headers too, and says so (signed like every POST)', () => {
    const retry = paths['/api/requests/{id}/retry']!.post!;
    const headerNames = (retry.parameters as Json[]).filter((p) => p.in === 'header').map((p) => p.name);
    expect(headerNames).toEqual(['webhook-id', 'webhook-timestamp', 'webhook-signature']);
    expect(retry.description).toMatch(/WEBHOOK_SIGNING_SECRET/);
    expect(retry.description).toMatch(/CHAT_PROVISIONER_SIGNING_SECRET/);
  });

  it('has one request schema holding both the compact and the Graph form, strict about unknown fields', () => {
    // Act
    const body = (paths['/api/requests']!.post!.requestBody as Json).content as Json;
    const schema = resolve((body['application/json'] as Json).schema);
    const forms = (schema.anyOf ?? schema.oneOf) as Json[];
    const compact = resolve(forms.find((f) => 'apps' in (resolve(f).properties as Json)));
    const graph = resolve(forms.find((f) => 'installedApps' in (resolve(f).properties as Json)));

    // Assess
    expect(forms).toHaveLength(2);
    expect(compact.additionalProperties).toBe(false);
    expect(graph.additionalProperties).toBe(false);
    expect(Object.keys(compact.properties as Json)).toEqual(
      expect.arrayContaining(['chatType', 'topic', 'members', 'apps', 'externalId', 'callbackUrl', 'notBefore']),
    );
    expect(Object.keys(graph.properties as Json)).toEqual(
      expect.arrayContaining(['chatType', 'members', 'installedApps', 'externalId', 'callbackUrl', 'notBefore']),
    );
    expect((graph.properties as Json).chatType).toMatchObject({ enum: ['oneOnOne', 'group'] });
    const member = resolve(((graph.properties as Json).members as Json).items);
    expect(member.required).toEqual(['@odata.type', 'roles', 'user@odata.bind']);
  });

  it('uses the batch item schema = the single request schema, 1 to 1000 items', () => {
    // Act
    const body = (paths['/api/requests/batch']!.post!.requestBody as Json).content as Json;
    const batch = resolve((body['application/json'] as Json).schema);
    const single = ((paths['/api/requests']!.post!.requestBody as Json).content as Json)['application/json'] as Json;
    const requests = (batch.properties as Json).requests as Json;

    // Assess
    expect(requests).toMatchObject({ type: 'array', minItems: 1, maxItems: 1000 });
    expect(requests.items).toEqual(single.schema);
  });

  it('carries the compact example and a Graph example, both valid', () => {
    // Act
    const media = ((paths['/api/requests']!.post!.requestBody as Json).content as Json)['application/json'] as Json;
    const examples = media.examples as Record<string, { value: unknown }>;

    // Assess
    expect(examples.compact!.value).toEqual(COMPACT_EXAMPLE);
    expect(examples.graph!.value).toEqual(GRAPH_EXAMPLE);
    for (const example of Object.values(examples)) {
      expect(parseProvisioningRequest(example.value, new Date('2025-01-01T00:00:00Z')).ok).toBe(true);
    }
  });

  it('asks for the function key as x-functions-key header or code query, except on health', () => {
    // Act
    const schemes = (doc.components as Json).securitySchemes as Record<string, Json>;

    // Assess
    expect(Object.values(schemes)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'apiKey', in: 'header', name: 'x-functions-key' }),
        expect.objectContaining({ type: 'apiKey', in: 'query', name: 'code' }),
      ]),
    );
    const security = doc.security as Json[];
    for (const requirement of security)
      for (const name of Object.keys(requirement)) expect(schemes).toHaveProperty(name);
    expect(paths['/api/health']!.get!.security).toEqual([]);
    expect(paths['/api/requests']!.post!.security).toBeUndefined();
  });

  it('lists the list-query parameters with top 1..1000 defaulting to 100', () => {
    // Act
    const parameters = paths['/api/requests']!.get!.parameters as Json[];

    // Assess
    expect(parameters.map((p) => [p.name, p.in])).toEqual([
      ['state', 'query'],
      ['externalId', 'query'],
      ['since', 'query'],
      ['top', 'query'],
      ['continuationToken', 'query'],
    ]);
    expect(parameters.find((p) => p.name === 'top')!.schema).toMatchObject({ minimum: 1, maximum: 1000, default: 100 });
    expect((parameters.find((p) => p.name === 'state')!.schema as Json).enum).toEqual([
      'queued',
      'creating',
      'pending',
      'succeeded',
      'failed',
    ]);
  });

  it('resolves every $ref, and every named schema is an object schema', () => {
    // Act
    const refs = allRefs(doc);

    // Assess
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(schemas[ref.replace('#/components/schemas/', '')]).toBeDefined();
    }
    for (const schema of Object.values(schemas)) expect(typeof schema).toBe('object');
  });

  it('is built once and reused', () => {
    expect(buildOpenApiDocument()).toBe(buildOpenApiDocument());
  });
});
