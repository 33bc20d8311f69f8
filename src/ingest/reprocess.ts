import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { App } from '../app.js';
import { appendEvents, type NewEvent } from '../db/events.js';
import type { Report, ReportRecipient } from '../parsers/report.js';
import { correlate } from './correlate.js';
import { dedupeKey } from './effects.js';
import { inTransaction, planEffects } from './ingest.js';
import { jsonSafeCopy } from './json-safe.js';
import { safeParse } from './prepare.js';
import { suppressAfter } from './suppress.js';
import type { InboundEnvelope, Parser } from './types.js';

export interface ReprocessOptions {
  /** Only reports received at or after this time. */
  since?: Date;
  /** Only these reports (the dashboard's reprocess action on one report). */
  ids?: readonly number[];
  batchSize?: number;
  onProgress?(p: ReprocessProgress): void;
}

export interface ReprocessProgress {
  total: number;
  scanned: number;
  /** Reports whose classification changed with the current parser. */
  changed: number;
  /** Events written: reclassifications, and facts the old parse had missed. */
  events: number;
}

/** What a classification is, for comparing two parses of the same bytes. */
function classification(r: Pick<ReportRecipient, 'action' | 'status' | 'reason' | 'bounce_class' | 'feedback_type'>) {
  return { action: r.action, status: r.status, reason: r.reason, bounce_class: r.bounce_class, feedback_type: r.feedback_type };
}

function summary(report: Report): string {
  return JSON.stringify({ kind: report.kind, recipients: report.recipients.map((r) => ({ recipient: r.recipient?.toLowerCase() ?? null, ...classification(r) })) });
}

/**
 * Re-parses stored raw reports with the current parser and records only what changed. Facts are
 * never deleted or rewritten: a recipient already recorded gets a `reclassified` event (before
 * and after); a fact the old parse missed (it was unknown, or uncorrelated) is recorded now,
 * and suppressions follow the new classification. The stored parse is replaced, so a second run
 * finds nothing to do.
 */
export async function reprocess(app: App, parser: Parser, opts: ReprocessOptions = {}): Promise<ReprocessProgress> {
  const db = app.database.db;
  const batchSize = opts.batchSize ?? 100;
  // SMS receipts and replies (source sms) are not mail: src/sms applies them, the parser never reads them.
  let base = db.selectFrom('raw_reports').where('raw', 'is not', null).where('applied_at', 'is not', null).where('source', '<>', 'sms');
  if (opts.since) base = base.where('received_at', '>=', opts.since);
  if (opts.ids) base = base.where('id', 'in', opts.ids.length ? opts.ids : [0]);
  const { n } = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const progress: ReprocessProgress = { total: Number(n), scanned: 0, changed: 0, events: 0 };
  let after = 0;
  for (;;) {
    const rows = await base
      .select(['id', 'sha256', 'raw', 'parse', 'envelope', 'received_at'])
      .where('id', '>', after)
      .orderBy('id')
      .limit(batchSize)
      .execute();
    if (rows.length === 0) break;
    for (const row of rows) {
      after = row.id;
      progress.scanned++;
      const { value: fresh, json: freshJson } = jsonSafeCopy(await safeParse(gunzipSync(row.raw!), parser));
      const old = row.parse as Report | null;
      if (old && summary(old) === summary(fresh)) continue;
      progress.changed++;
      progress.events += await inTransaction(app, async (trx) => {
        const envelope = row.envelope as unknown as InboundEnvelope;
        const corr = await correlate(trx, { secret: app.secret, domains: app.config.MAILTRAIL_BOUNCE_DOMAIN }, fresh, envelope);
        const ctx = { sha256: row.sha256, reportId: row.id, occurredAt: row.received_at, source: 'reprocess' as const };
        const before = new Map((old?.recipients ?? []).map((r) => [r.recipient?.toLowerCase() ?? '-', classification(r)]));
        let written = 0;
        for (const { message, events } of planEffects({ report: fresh, envelope }, corr, ctx)) {
          const keys = events.map((e) => e.dedupeKey!).filter(Boolean);
          const recorded = new Set(
            (await trx.selectFrom('events').select('dedupe_key').where('message_id', '=', message.id).where('dedupe_key', 'in', keys).execute()).map((e) => e.dedupe_key),
          );
          const toWrite: NewEvent[] = events.flatMap((e) => {
            if (!recorded.has(e.dedupeKey!)) return [e];
            if (e.type === 'unsubscribed') return []; // decided by the envelope, not by the parse
            const data = e.data as { recipient: string | null };
            const rcpt = data.recipient?.toLowerCase() ?? '-';
            const after = fresh.recipients.find((r) => (r.recipient?.toLowerCase() ?? '-') === rcpt);
            const afterClass = after ? classification(after) : null;
            const hash = createHash('sha256').update(JSON.stringify(afterClass)).digest('hex').slice(0, 16);
            return [{
              type: 'reclassified' as const,
              occurredAt: app.clock.now(),
              source: 'reprocess',
              reportId: row.id,
              dedupeKey: `reclassified:${dedupeKey(row.sha256, { recipient: data.recipient })}:${hash}`,
              data: { report_id: row.id, recipient: data.recipient, event_type: e.type, before: before.get(rcpt) ?? null, after: afterClass, parser_version: parser.version },
            }];
          });
          const r = await appendEvents(trx, message.id, toWrite);
          if (!r) continue;
          written += r.inserted.length;
          // Suppression follows the new classification: a reclassification counts as the fact it revises.
          const facts = r.inserted.map((e) => {
            const d = e.data as { event_type?: string; after?: Record<string, unknown> | null };
            return e.type === 'reclassified' && d.event_type ? { ...e, type: d.event_type, data: d.after ?? {} } : e;
          });
          await suppressAfter(trx, [{ message, inserted: facts }], app.config.MAILTRAIL_SOFT_BOUNCE_LIMIT, app.clock.now());
        }
        const targets = [...corr.assignments.map((a) => a.message), ...corr.unsubscribe];
        await trx
          .updateTable('raw_reports')
          .set({
            parse: freshJson,
            kind: fresh.kind,
            parser_version: parser.version,
            ...(targets.length > 0 ? { correlated: true, tenant_id: targets[0].tenant_id } : {}),
          })
          .where('id', '=', row.id)
          .execute();
        return written;
      });
    }
    opts.onProgress?.({ ...progress });
  }
  return progress;
}
