import { sql, type Transaction } from 'kysely';
import type { App } from '../app.js';
import { appendEventsBatch, type NewEvent } from '../db/events.js';
import type { DB } from '../db/types.js';
import type { Report } from '../parsers/report.js';
import { chainStoredReports } from '../proof/chain.js';
import { correlate, envelopeTargets, type Correlation, type Target } from './correlate.js';
import { eventFor, unsubscribeEvent, type EffectContext } from './effects.js';
import { ingestMetrics } from './metrics.js';
import { prepareReport, type PreparedReport } from './prepare.js';
import { suppressAfter } from './suppress.js';
import type { InboundEnvelope, IngestOutcome, Parser } from './types.js';

export interface Ingestor {
  /**
   * Stores one inbound message and applies what it reports. Resolves once committed; rejects
   * only when the database could not take it (the caller answers 4xx).
   */
  ingest(raw: Buffer, envelope: InboundEnvelope): Promise<IngestOutcome>;
}

// Postgres asks the client to retry these; they resolve by themselves on a second try.
const RETRYABLE = new Set(['40001', '40P01']);

/** Runs `work` in a transaction, again on a serialization failure or deadlock (at most 3 tries). */
export async function inTransaction<T>(app: App, work: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await app.database.db.transaction().execute(work);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (attempt < 3 && code && RETRYABLE.has(code)) continue;
      throw err;
    }
  }
}

/**
 * Ingest = prepare (hash, gzip, parse) → [correlate, store, apply events, suppress] in one
 * transaction. The IMAP poller uses it; the SMTP listener stores first and applies right after
 * (src/ingest/group-commit.ts), which keeps the answer to the sending MTA fast.
 */
export function createIngestor(app: App, parser: Parser): Ingestor {
  const metrics = ingestMetrics(app.metrics);
  return {
    async ingest(raw, envelope) {
      const end = metrics.duration.startTimer();
      const prepared = await prepareReport(raw, envelope, parser);
      try {
        const outcome = await inTransaction(app, (trx) => storeAndApply(trx, app, prepared));
        const label = outcome.duplicate ? 'duplicate' : outcome.correlated > 0 ? 'correlated' : 'uncorrelated';
        metrics.reports.inc({ kind: outcome.kind, outcome: label });
        end({ outcome: label });
        return outcome;
      } catch (err) {
        metrics.reports.inc({ kind: prepared.report.kind, outcome: 'failed' });
        end({ outcome: 'failed' });
        throw err;
      }
    },
  };
}

/** The raw_reports row of a prepared report (gzip bytes, cleaned JSON). */
export function rawReportRow(p: PreparedReport, receivedAt: Date) {
  return {
    sha256: p.sha256,
    raw: p.gz,
    size: p.size,
    source: p.envelope.source,
    envelope: p.envelopeJson,
    kind: p.report.kind,
    parse: p.reportJson,
    parser_version: p.parserVersion,
    received_at: receivedAt,
  };
}

/**
 * Store and apply inside the caller's transaction: a duplicate (same sha256) stops after the
 * lookup, so a retried delivery records nothing twice.
 */
export async function storeAndApply(trx: Transaction<DB>, app: App, p: PreparedReport): Promise<IngestOutcome> {
  const now = app.clock.now();
  const inserted = await trx
    .insertInto('raw_reports')
    .values({ ...rawReportRow(p, now), applied_at: now })
    .onConflict((oc) => oc.column('sha256').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!inserted) {
    const existing = await trx.selectFrom('raw_reports').select('id').where('sha256', '=', p.sha256).executeTakeFirstOrThrow();
    return { reportId: existing.id, duplicate: true, kind: p.report.kind, correlated: 0, events: 0 };
  }
  const applied = await applyStored(trx, app, { id: inserted.id, sha256: p.sha256, report: p.report, envelope: p.envelope, receivedAt: now });
  return { reportId: inserted.id, duplicate: false, kind: p.report.kind, ...applied };
}

/** A stored report, as the apply step needs it. */
export interface StoredReport {
  id: number;
  sha256: string;
  report: Report;
  envelope: InboundEnvelope;
  receivedAt: Date;
}

/**
 * The effects of stored reports, inside the caller's transaction: correlate each, append every
 * message's events of all of them in one batch (appendEventsBatch recomputes statuses), update
 * suppressions, mark each report applied with what it was attached to, and chain the reports
 * into the system proof chain. Results in order.
 */
export async function applyStoredBatch(
  trx: Transaction<DB>,
  app: App,
  reports: readonly StoredReport[],
): Promise<Array<{ correlated: number; events: number }>> {
  if (reports.length === 0) return [];
  const keys = { secret: app.secret, domains: app.config.MAILTRAIL_BOUNCE_DOMAIN };
  const known = await envelopeTargets(trx, keys, reports);
  const planned = [];
  for (const r of reports) {
    const corr = await correlate(trx, keys, r.report, r.envelope, known);
    const ctx: EffectContext = { sha256: r.sha256, reportId: r.id, occurredAt: r.receivedAt, source: r.envelope.source };
    planned.push({ r, targets: [...corr.assignments.map((a) => a.message), ...corr.unsubscribe], plan: planEffects(r, corr, ctx) });
  }
  const written = await applyPlans(trx, app, planned.map((p) => p.plan));
  const now = app.clock.now();
  await sql`
    update raw_reports set correlated = v.correlated, tenant_id = v.tenant_id, applied_at = ${now}::timestamptz
    from (values ${sql.join(planned.map((p) => sql`(${p.r.id}::bigint, ${p.targets.length > 0}::boolean, ${p.targets[0]?.tenant_id ?? null}::uuid)`))})
      as v(id, correlated, tenant_id)
    where raw_reports.id = v.id`.execute(trx);
  // Last: the system chain's lock is held only until this transaction commits (lock order).
  await chainStoredReports(trx, reports.map((r) => r.id));
  return planned.map((p, i) => ({ correlated: new Set(p.targets.map((t) => t.id)).size, events: written[i] }));
}

/** applyStoredBatch for one report. */
export async function applyStored(trx: Transaction<DB>, app: App, r: StoredReport): Promise<{ correlated: number; events: number }> {
  const [out] = await applyStoredBatch(trx, app, [r]);
  return out;
}

export interface PlannedEffect {
  message: Target;
  events: NewEvent[];
}

/** The events each correlated message gets from this report. */
export function planEffects(p: Pick<StoredReport, 'report' | 'envelope'>, corr: Correlation, ctx: EffectContext): PlannedEffect[] {
  const plan = corr.assignments.map((a) => ({
    message: a.message,
    events: a.recipients.map((r) => eventFor(p.report, r, ctx)).filter((e): e is NewEvent => e !== null),
  }));
  const from = p.envelope.mailFrom || p.report.from;
  for (const m of corr.unsubscribe) plan.push({ message: m, events: [unsubscribeEvent(from, ctx)] });
  return plan.filter((e) => e.events.length > 0);
}

/**
 * The events of several plans in one appendEventsBatch (it locks the tenants in id order), then
 * the suppressions the new events call for. Returns the number of events written per plan.
 */
async function applyPlans(trx: Transaction<DB>, app: App, plans: ReadonlyArray<readonly PlannedEffect[]>): Promise<number[]> {
  const flat = plans.flatMap((plan, i) => plan.map((effect) => ({ ...effect, plan: i })));
  const results = await appendEventsBatch(trx, flat.map((e) => ({ messageId: e.message.id, events: e.events })));
  const written = plans.map(() => 0);
  const fresh = [];
  for (const [i, r] of results.entries()) {
    if (!r || r.inserted.length === 0) continue;
    written[flat[i].plan] += r.inserted.length;
    fresh.push({ message: flat[i].message, inserted: r.inserted });
  }
  await suppressAfter(trx, fresh, app.config.MAILTRAIL_SOFT_BOUNCE_LIMIT, app.clock.now());
  await rearmAfterDelay(trx, app, fresh);
  return written;
}

/**
 * A delay notice for a sent message whose no-bounce window already closed (it may read
 * `delivered` on that guess): the relay is still trying, so the window opens again
 * (src/send/delivered-job.ts decides when it closes).
 */
async function rearmAfterDelay(trx: Transaction<DB>, app: App, fresh: ReadonlyArray<{ message: Target; inserted: ReadonlyArray<{ type: string }> }>): Promise<void> {
  const ids = fresh.filter((f) => f.inserted.some((e) => e.type === 'deferred')).map((f) => f.message.id);
  if (ids.length === 0) return;
  await trx
    .updateTable('messages')
    .set({ next_attempt_at: new Date(app.clock.now().getTime() + app.config.MAILTRAIL_DELIVERED_AFTER) })
    .where('id', 'in', ids)
    .where('sent_at', 'is not', null)
    .where('next_attempt_at', 'is', null)
    .execute();
}
