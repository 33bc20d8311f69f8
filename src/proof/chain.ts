import { sql, type Transaction } from 'kysely';
import type { DB, EventRow } from '../db/types.js';
import { contentHash, type JsonValue } from './canonical.js';
import {
  GENESIS,
  SYSTEM_CHAIN,
  entryHash,
  eventContent,
  purgeContent,
  reportContent,
  type EntryKind,
  type ReportFacts,
} from './format.js';

/**
 * Writing the hash chains, always inside the transaction that writes the facts themselves, so a
 * fact and its entry commit together or not at all.
 *
 * Lock order, the same for every writer so that no two transactions wait on each other in a
 * cycle: tenant rows in tenant id order (appendEventsBatch takes all of a batch's at once), a
 * tenant's chain row only while its tenant row is held (so it never adds a wait of its own), and
 * the system chain row last (it is shared by every report, so it is held only from the end of a
 * transaction to its commit).
 */

interface PendingEntry {
  kind: EntryKind;
  content: JsonValue;
  event_id?: string;
  message_id?: string;
  report_id?: number;
}

/**
 * Chains events of one tenant just inserted by appendEventsBatch (all of them at once, in
 * tenant_seq order), under the tenant row lock it holds: the chain grows with no fork. A raw
 * report the events cite is chained into this tenant's chain first (once), so a tenant's chain
 * proves the reports its events rest on.
 */
export async function chainEvents(trx: Transaction<DB>, tenantId: string, events: readonly EventRow[]): Promise<void> {
  if (events.length === 0) return;
  const reportIds = [...new Set(events.map((e) => e.report_id).filter((id): id is number => id !== null))];
  const reports = reportIds.length > 0 ? await unchainedReports(trx, tenantId, reportIds) : [];
  await appendEntries(trx, tenantId, [
    ...reports.map(reportEntry),
    ...events.map(eventEntry),
  ]);
}

/**
 * Chains reports into the system chain in the transaction that stores them: every raw report is
 * in the trail from the moment it is kept, whoever it turns out to concern. Call it last in the
 * transaction, after any appendEvents (lock order). Idempotent; returns how many it chained.
 */
export async function chainStoredReports(trx: Transaction<DB>, reportIds: readonly number[]): Promise<number> {
  if (reportIds.length === 0) return 0;
  const reports = await unchainedReports(trx, SYSTEM_CHAIN, [...new Set(reportIds)]);
  await appendEntries(trx, SYSTEM_CHAIN, reports.map(reportEntry));
  return reports.length;
}

/**
 * Records that a report's raw body was purged, in every chain that holds the report (the system
 * chain when none does). Returns the chains written to.
 */
export async function chainPurge(trx: Transaction<DB>, report: Pick<ReportFacts, 'id' | 'sha256'>, purgedAt: Date): Promise<string[]> {
  const rows = await trx
    .selectFrom('proof_entries')
    .select('chain')
    .distinct()
    .where('kind', '=', 'report')
    .where('report_id', '=', report.id)
    .execute();
  const tenants = rows.map((r) => r.chain).filter((c) => c !== SYSTEM_CHAIN).sort();
  const chains = rows.length === 0 || rows.some((r) => r.chain === SYSTEM_CHAIN) ? [...tenants, SYSTEM_CHAIN] : tenants;
  const entry: PendingEntry = { kind: 'purge', content: purgeContent(report, purgedAt), report_id: report.id };
  for (const chain of chains) {
    if (chain !== SYSTEM_CHAIN) await lockTenant(trx, chain);
    await appendEntries(trx, chain, [entry]);
  }
  return chains;
}

function eventEntry(e: EventRow): PendingEntry {
  return { kind: 'event', content: eventContent(e), event_id: e.id, message_id: e.message_id, report_id: e.report_id ?? undefined };
}

function reportEntry(r: ReportFacts): PendingEntry {
  return { kind: 'report', content: reportContent(r), report_id: r.id };
}

async function lockTenant(trx: Transaction<DB>, tenantId: string): Promise<void> {
  await trx.selectFrom('tenants').select('id').where('id', '=', tenantId).forNoKeyUpdate().executeTakeFirstOrThrow();
}

/** Reports among `ids` that are not yet in the tenant's chain, oldest first (one round trip). */
function unchainedReports(trx: Transaction<DB>, chain: string, ids: number[]): Promise<ReportFacts[]> {
  return trx
    .selectFrom('raw_reports as r')
    .select(['r.id', 'r.sha256', 'r.size', 'r.source', 'r.received_at'])
    .where('r.id', 'in', ids)
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('proof_entries as p').select('p.seq').where('p.chain', '=', chain).where('p.kind', '=', 'report').whereRef('p.report_id', '=', 'r.id'))),
    )
    .orderBy('r.id')
    .execute();
}

/**
 * Extends a chain. The upsert locks the chain row (created on first use) until commit, so two
 * writers of one chain queue up and each extends the head the other committed.
 */
async function appendEntries(trx: Transaction<DB>, chain: string, pending: readonly PendingEntry[]): Promise<void> {
  if (pending.length === 0) return;
  const head = await trx
    .insertInto('proof_chains')
    .values({ chain, head: GENESIS })
    .onConflict((oc) => oc.column('chain').doUpdateSet({ chain: (eb) => eb.ref('excluded.chain') }))
    .returning(['seq', 'head'])
    .executeTakeFirstOrThrow();
  let seq = head.seq;
  let prev = head.head;
  const rows = pending.map((p) => {
    seq += 1;
    const ch = contentHash(p.content);
    const hash = entryHash(chain, seq, prev, ch);
    const row = {
      chain,
      seq,
      kind: p.kind,
      event_id: p.event_id ?? null,
      message_id: p.message_id ?? null,
      report_id: p.report_id ?? null,
      content_hash: ch,
      prev_hash: prev,
      hash,
    };
    prev = hash;
    return row;
  });
  // Entries and the new head in one statement: one round trip fewer while the lock is held.
  await trx
    .with('entries', (db) => db.insertInto('proof_entries').values(rows))
    .updateTable('proof_chains')
    .set({ seq, head: prev, updated_at: sql<Date>`now()` })
    .where('chain', '=', chain)
    .execute();
}
