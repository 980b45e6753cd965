import type { HttpResponseInit } from '@azure/functions';
import { json } from '../../shared/http/responses';
import { buildOpenApiDocument } from '../../shared/http/openapi';

/**
 * GET /api/openapi.json (anonymous): the API description generated from the zod schemas. A module of
 * its own, so that serving it loads no storage or Graph client.
 */
export async function openApi(): Promise<HttpResponseInit> {
  return json(200, buildOpenApiDocument());
}
