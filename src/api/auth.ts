import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../app.js';
import { tenantForApiKey } from '../db/tenants.js';
import type { Tenant } from '../db/types.js';

const tenants = new WeakMap<FastifyRequest, Tenant>();
const MAX_KEY_CHARS = 200;
const CACHE_TTL_MS = 5_000;
const CACHE_MAX = 10_000;

/**
 * Recently seen valid keys, so a busy client costs no database round trip per request. Bounded
 * in time: a key revoked on another node stops working within CACHE_TTL_MS (on this node, at
 * once: see forgetApiKeys). Unknown keys are never cached, so guessing fills nothing.
 */
const caches = new WeakMap<App, Map<string, { tenant: Tenant; until: number }>>();

function cacheOf(app: App) {
  let c = caches.get(app);
  if (!c) caches.set(app, (c = new Map()));
  return c;
}

/** Drops cached keys of a tenant (called when one of its keys is revoked here). */
export function forgetApiKeys(app: App, tenantId: string): void {
  const cache = cacheOf(app);
  for (const [k, v] of cache) if (v.tenant.id === tenantId) cache.delete(k);
}

async function lookup(app: App, key: string): Promise<Tenant | null> {
  const cache = cacheOf(app);
  const now = Date.now();
  const hit = cache.get(key);
  if (hit && hit.until > now) return hit.tenant;
  const tenant = await tenantForApiKey(app.database.db, key);
  if (!tenant) {
    cache.delete(key);
    return null;
  }
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
  cache.set(key, { tenant, until: now + CACHE_TTL_MS });
  return tenant;
}

/**
 * onRequest hook: `Authorization: Bearer <api key>` → the key's tenant, or 401. The key is looked
 * up by its sha256 (src/db/tenants.ts), so no comparison of secrets happens in this process.
 */
export function authenticator(app: App) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const m = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '');
    const key = m?.[1];
    const tenant = key && key.length <= MAX_KEY_CHARS ? await lookup(app, key) : null;
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
