import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../app.js';
import { tenantForApiKey } from '../db/tenants.js';
import type { Tenant } from '../db/types.js';

const tenants = new WeakMap<FastifyRequest, Tenant>();
const MAX_KEY_CHARS = 200;

/**
 * onRequest hook: `Authorization: Bearer <api key>` → the key's tenant, or 401. The key is looked
 * up by its sha256 (src/db/tenants.ts), so no comparison of secrets happens in this process.
 */
export function authenticator(app: App) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const m = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '');
    const key = m?.[1];
    const tenant = key && key.length <= MAX_KEY_CHARS ? await tenantForApiKey(app.database.db, key) : null;
    if (!tenant) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: 'unauthorized', message: key ? 'unknown or revoked API key' : 'missing Authorization: Bearer <api key>', request_id: req.id });
    }
    tenants.set(req, tenant);
  };
}

/** The authenticated tenant of a request that passed `authenticator`. */
export function tenantOf(req: FastifyRequest): Tenant {
  const t = tenants.get(req);
  if (!t) throw new Error('tenantOf: request was not authenticated');
  return t;
}
