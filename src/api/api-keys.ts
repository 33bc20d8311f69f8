import { z } from 'zod';
import type { App } from '../app.js';
import { createApiKey, revokeApiKey } from '../db/tenants.js';
import { forgetApiKeys } from './auth.js';
import { defineRoute } from './route.js';
import { IdParams, Timestamp, Uuid, errorBody, errorResponses, notFound } from './schemas.js';

const KeyView = z.object({
  id: Uuid,
  prefix: z.string().meta({ description: 'the visible part of the key, mt_<prefix>_...' }),
  label: z.string().nullable(),
  created_at: Timestamp,
  revoked_at: Timestamp.nullable(),
});
const CreateBody = z.object({ label: z.string().max(200).optional() }).strict().prefault({});

/** The tenant's own API keys: list, add (to rotate) and revoke. Only hashes are stored. */
export function apiKeyRoutes(app: App) {
  const db = app.database.db;
  const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());
  return [
    defineRoute({
      method: 'GET',
      url: '/api-keys',
      operationId: 'listApiKeys',
      summary: "The tenant's API keys (never the keys themselves)",
      tag: 'api-keys',
      responses: { 200: { description: 'the keys', schema: z.object({ data: z.array(KeyView) }) }, ...errorResponses },
      async handler({ tenant }) {
        const rows = await db
          .selectFrom('api_keys')
          .select(['id', 'prefix', 'label', 'created_at', 'revoked_at'])
          .where('tenant_id', '=', tenant.id)
          .orderBy('id')
          .execute();
        return { data: rows.map((k) => ({ ...k, created_at: iso(k.created_at)!, revoked_at: iso(k.revoked_at) })) };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api-keys',
      operationId: 'createApiKey',
      summary: 'A new API key for this tenant, shown once (to rotate: create, deploy, revoke the old one)',
      tag: 'api-keys',
      body: CreateBody,
      responses: { 201: { description: 'the key', schema: z.object({ id: Uuid, key: z.string(), prefix: z.string() }) }, ...errorResponses },
      async handler({ body, tenant, reply }) {
        return reply.code(201).send(await createApiKey(db, tenant.id, body.label));
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api-keys/:id',
      operationId: 'revokeApiKey',
      summary: 'Revoke a key: it stops authenticating at once',
      tag: 'api-keys',
      params: IdParams,
      responses: { 204: { description: 'revoked' }, ...errorResponses, 404: notFound },
      async handler({ params, tenant, req, reply }) {
        if (!(await revokeApiKey(db, tenant.id, params.id))) {
          return reply.code(404).send(errorBody(req.id, 'not_found', `no active API key ${params.id}`));
        }
        forgetApiKeys(app, tenant.id);
        return reply.code(204).send();
      },
    }),
  ];
}
