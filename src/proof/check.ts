import type { App } from '../app.js';
import { exportBundle } from './export.js';
import { resolveProofKey } from './keys.js';
import { SYSTEM_CHAIN } from './format.js';
import { verifyBundle, type Finding, type Verification } from './verify.js';

/**
 * `mailtrail proof check`: verifies a whole chain (a tenant's, or the system chain) against the
 * database as it is now, with the operator's own key. It signs nothing (a checkpoint must never
 * bless tampered rows), and also finds events (or stored reports) written behind its back.
 */
export async function checkChain(app: App, chain: string): Promise<Verification> {
  const bundle = await exportBundle(app, chain, { sign: false });
  const result = verifyBundle(bundle, { trustedKeyPem: resolveProofKey(app.config).publicPem, allowUnsigned: true });
  result.problems.push(...(chain === SYSTEM_CHAIN ? await unchainedReports(app) : await unchainedEvents(app, chain)));
  result.ok = result.problems.length === 0;
  return result;
}

async function unchainedEvents(app: App, tenantId: string): Promise<Finding[]> {
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
  return unchained.map((e) => ({
    at: `event ${e.id}`,
    problem: `(tenant_seq ${e.tenant_seq}, message ${e.message_id}) is not in the chain: inserted behind its back, or its entry was deleted`,
  }));
}

async function unchainedReports(app: App): Promise<Finding[]> {
  const rows = await app.database.db
    .selectFrom('raw_reports')
    .select(['id', 'sha256'])
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('proof_entries').select('seq').where('chain', '=', SYSTEM_CHAIN).where('kind', '=', 'report').whereRef('proof_entries.report_id', '=', 'raw_reports.id'))),
    )
    .orderBy('id')
    .limit(100)
    .execute();
  return rows.map((r) => ({ at: `report ${r.id}`, problem: `(sha256 ${r.sha256}) is not in the system chain: stored behind its back, or its entry was deleted` }));
}
