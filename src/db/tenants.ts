import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { uuidv7 } from '../core/ids.js';
import type { DB, Tenant } from './types.js';

/** The tenant of that name, created if missing. */
export async function ensureTenant(db: Kysely<DB>, name: string): Promise<Tenant> {
  await db
    .insertInto('tenants')
    .values({ id: uuidv7(), name })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  return db.selectFrom('tenants').selectAll().where('name', '=', name).executeTakeFirstOrThrow();
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export interface CreatedApiKey {
  id: string;
  /** Shown once: only its sha256 is stored. */
  key: string;
  prefix: string;
}

/** A new random API key for the tenant. Keys are 256-bit random, so a fast hash is enough at rest. */
export async function createApiKey(db: Kysely<DB>, tenantId: string, label?: string): Promise<CreatedApiKey> {
  const prefix = randomBytes(4).toString('hex');
  const key = `mt_${prefix}_${randomBytes(32).toString('base64url')}`;
  const id = uuidv7();
  await db
    .insertInto('api_keys')
    .values({ id, tenant_id: tenantId, key_hash: hashApiKey(key), prefix, label: label ?? null })
    .execute();
  return { id, key, prefix };
}

/** The tenant an API key belongs to, or null for an unknown or revoked key. */
export async function tenantForApiKey(db: Kysely<DB>, key: string): Promise<Tenant | null> {
  const row = await db
    .selectFrom('api_keys')
    .innerJoin('tenants', 'tenants.id', 'api_keys.tenant_id')
    .selectAll('tenants')
    .where('api_keys.key_hash', '=', hashApiKey(key))
    .where('api_keys.revoked_at', 'is', null)
    .executeTakeFirst();
  return row ?? null;
}

export async function revokeApiKey(db: Kysely<DB>, tenantId: string, keyId: string): Promise<boolean> {
  const r = await db
    .updateTable('api_keys')
    .set({ revoked_at: new Date() })
    .where('id', '=', keyId)
    .where('tenant_id', '=', tenantId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
