import type { App } from '../app.js';
import { exportBundle } from './export.js';
import { resolveProofKey } from './keys.js';
import { verifyBundle, type Verification } from './verify.js';

/**
 * `mailtrail proof check`: verifies a tenant's whole chain against the database as it is now,
 * with the operator's own key. It signs nothing (a checkpoint must never bless tampered rows),
 * and also finds events that were written behind the chain's back.
 */
export async function checkChain(app: App, tenantId: string): Promise<Verification> {
  const bundle = await exportBundle(app, tenantId, { sign: false });
  const result = verifyBundle(bundle, { trustedKeyPem: resolveProofKey(app.config).publicPem });
  const unchained = await app.database.db
    .selectFrom('events')
    .select(['id', 'tenant_seq', 'message_id'])
    .where('tenant_id', '=', tenantId)
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('proof_entries').select('seq').where('chain', '=', tenantId).whereRef('proof_entries.event_id', '=', 'events.id'))),
    )
    .orderBy('tenant_seq')
    .limit(100)
    .execute();
  for (const e of unchained) {
    result.problems.push({
      at: `event ${e.id}`,
      problem: `(tenant_seq ${e.tenant_seq}, message ${e.message_id}) is not in the chain: inserted behind its back, or its entry was deleted`,
    });
  }
  result.ok = result.problems.length === 0;
  return result;
}
