import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, ensureTenant, hashApiKey, revokeApiKey, tenantForApiKey } from '../../src/db/tenants.js';
import { dialect, testApp, type TestApp } from '../support/app.js';

describe(`tenants and API keys on ${dialect}`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp();
  });
  afterAll(() => t.close());

  it('stores only the hash of a key and resolves it to its tenant', async () => {
    const db = t.app.database.db;
    const acme = await ensureTenant(db, 'acme');
    expect((await ensureTenant(db, 'acme')).id).toBe(acme.id);
    const k = await createApiKey(db, acme.id);
    const rows = await db.selectFrom('api_keys').selectAll().execute();
    expect(rows.some((r) => r.key_hash === hashApiKey(k.key))).toBe(true);
    expect(JSON.stringify(rows)).not.toContain(k.key);
    expect((await tenantForApiKey(db, k.key))?.id).toBe(acme.id);
    expect(await tenantForApiKey(db, `${k.key}x`)).toBeNull();
  });

  it('a revoked key no longer authenticates; another tenant cannot revoke it', async () => {
    const db = t.app.database.db;
    const a = await ensureTenant(db, 'a');
    const b = await ensureTenant(db, 'b');
    const k = await createApiKey(db, a.id);
    expect(await revokeApiKey(db, b.id, k.id)).toBe(false);
    expect(await revokeApiKey(db, a.id, k.id)).toBe(true);
    expect(await tenantForApiKey(db, k.key)).toBeNull();
  });
});
