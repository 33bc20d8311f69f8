import type { Transaction } from 'kysely';
import type { App } from '../app.js';
import { appendEvents, type NewEvent } from '../db/events.js';
import type { DB } from '../db/types.js';
import type { Report } from '../parsers/report.js';
import { chainStoredReports } from '../proof/chain.js';
import { correlate, type Correlation, type Target } from './correlate.js';
import { eventFor, unsubscribeEvent, type EffectContext } from './effects.js';
import { jsonSafe } from './json-safe.js';
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
    envelope: jsonSafe(p.envelope),
    kind: p.report.kind,
    parse: jsonSafe(p.report),
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
  await chainStoredReports(trx, [inserted.id]);
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
 * The effects of one stored report, inside the caller's transaction: correlate, append each
 * message's events (appendEvents recomputes its status), update suppressions, and mark the
 * report applied with what it was attached to.
 */
export async function applyStored(trx: Transaction<DB>, app: App, r: StoredReport): Promise<{ correlated: number; events: number }> {
  const keys = { secret: app.secret, domains: app.config.MAILTRAIL_BOUNCE_DOMAIN };
  const corr = await correlate(trx, keys, r.report, r.envelope);
  const targets = [...corr.assignments.map((a) => a.message), ...corr.unsubscribe];
  const ctx: EffectContext = { sha256: r.sha256, reportId: r.id, occurredAt: r.receivedAt, source: r.envelope.source };
  const events = await applyEffects(trx, app, planEffects(r, corr, ctx));
  await trx
    .updateTable('raw_reports')
    .set({ correlated: targets.length > 0, tenant_id: targets[0]?.tenant_id ?? null, applied_at: app.clock.now() })
    .where('id', '=', r.id)
    .execute();
  return { correlated: new Set(targets.map((t) => t.id)).size, events };
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
 * Appends each message's events (status recomputed by appendEvents) and updates suppressions.
 * Messages are taken in tenant order, so two reports spanning the same tenants lock them in the
 * same order. Returns the number of events written.
 */
export async function applyEffects(trx: Transaction<DB>, app: App, plan: readonly PlannedEffect[]): Promise<number> {
  let written = 0;
  const ordered = [...plan].sort((a, b) => (a.message.tenant_id < b.message.tenant_id ? -1 : a.message.tenant_id > b.message.tenant_id ? 1 : 0));
  for (const { message, events } of ordered) {
    const r = await appendEvents(trx, message.id, events);
    if (!r || r.inserted.length === 0) continue;
    written += r.inserted.length;
    await suppressAfter(trx, message, r.inserted, app.config.MAILTRAIL_SOFT_BOUNCE_LIMIT, app.clock.now());
  }
  return written;
}
