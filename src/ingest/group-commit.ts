import { sql, type Kysely, type Transaction } from 'kysely';
import type { App } from '../app.js';
import type { DB } from '../db/types.js';
import { applyStoredBatch, inTransaction, rawReportRow, type Ingestor } from './ingest.js';
import { ingestMetrics, type IngestMetrics } from './metrics.js';
import { prepareReport, type PreparedReport } from './prepare.js';
import type { InboundEnvelope, IngestOutcome, Parser } from './types.js';

export interface DeferredIngestor extends Ingestor {
  /** Stops applying after the current batch; what is left is applied at the next start. */
  stop(): Promise<void>;
}

export interface GroupOptions {
  /** Reports stored per statement. */
  maxStoreBatch?: number;
  /** Store statements in flight at once (default 2 on Postgres, 1 on PGlite). */
  concurrentStores?: number;
  /** Reports applied per transaction (default 100; each holds its tenants' locks until commit). */
  maxApplyBatch?: number;
  /** How often leftovers (from a crash, a failed apply) are looked for. */
  sweepMs?: number;
}

interface Waiting {
  p: PreparedReport;
  resolve(o: IngestOutcome): void;
  reject(err: unknown): void;
}

/**
 * The SMTP path: each message is stored with its parse by group commit (one multi-row INSERT and
 * one commit for every message that arrived meanwhile), answered as soon as that commit is done,
 * and applied right after by a loop that takes unapplied reports with SKIP LOCKED, so several
 * nodes share the work and a crash between the two steps loses nothing.
 */
export function createGroupIngestor(app: App, parser: Parser, opts: GroupOptions = {}): DeferredIngestor {
  const maxStore = opts.maxStoreBatch ?? 200;
  const metrics = ingestMetrics(app.metrics);
  const log = app.log.child({ role: 'ingest' });
  const applier = startApplier(app, metrics, opts);
  // Several stores in flight overlap their round trips on a pool; PGlite runs one at a time anyway.
  const maxFlushes = opts.concurrentStores ?? (app.database.dialect === 'pg' ? 2 : 1);
  let queue: Waiting[] = [];
  let flushing = 0;
  let scheduled = false;

  // The first store waits for the next turn of the event loop: every message read in this turn
  // joins its batch. PGlite runs in this thread and its queries resolve without yielding, so
  // without the wait each message went alone, stored and applied before the next one was read.
  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      flush().catch((err) => log.error({ err, code: 'MT_ERR_INGEST_FLUSH' }, 'group commit loop failed'));
    });
  }

  // Up to `maxFlushes` store statements in flight; the messages arriving meanwhile batch up.
  async function flush(): Promise<void> {
    if (flushing >= maxFlushes) return;
    flushing++;
    try {
      while (queue.length > 0) {
        const batch = queue.slice(0, maxStore);
        queue = queue.slice(batch.length);
        await storeOrSplit(batch);
        applier.notify();
      }
    } finally {
      flushing--;
    }
  }

  /** A failing batch is retried one by one, so only a message that cannot be stored gets 451. */
  async function storeOrSplit(batch: Waiting[]): Promise<void> {
    try {
      const outcomes = await storeBatch(app.database.db, app, batch.map((w) => w.p));
      batch.forEach((w, i) => {
        metrics.reports.inc({ kind: outcomes[i].kind, outcome: outcomes[i].duplicate ? 'duplicate' : 'stored' });
        w.resolve(outcomes[i]);
      });
    } catch (err) {
      if (batch.length > 1) {
        for (const w of batch) await storeOrSplit([w]);
        return;
      }
      metrics.reports.inc({ kind: batch[0].p.report.kind, outcome: 'failed' });
      batch[0].reject(err);
    }
  }

  return {
    async ingest(raw: Buffer, envelope: InboundEnvelope) {
      const end = metrics.duration.startTimer();
      const p = await prepareReport(raw, envelope, parser);
      const outcome = new Promise<IngestOutcome>((resolve, reject) => queue.push({ p, resolve, reject }));
      schedule();
      try {
        const o = await outcome;
        end({ outcome: o.duplicate ? 'duplicate' : 'stored' });
        return o;
      } catch (err) {
        end({ outcome: 'failed' });
        throw err;
      }
    },
    stop: () => applier.stop(),
  };
}

/**
 * Stores a batch in one statement (atomic by itself, so no BEGIN/COMMIT round trips): inserts the
 * new reports and returns the ids of those already stored (MTA retries) alongside. Rows go in
 * sha256 order so two nodes storing overlapping batches lock them in the same order. The proof
 * chain entry of a report is written when it is applied (applyStoredBatch), which keeps the one
 * system-chain lock off the path to the 250.
 */
export async function storeBatch(db: Kysely<DB>, app: App, batch: readonly PreparedReport[]): Promise<IngestOutcome[]> {
  const now = app.clock.now();
  const unique = [...new Map(batch.map((p) => [p.sha256, p])).values()].sort((a, b) => (a.sha256 < b.sha256 ? -1 : 1));
  const rows = await db
    .with('stored', (q) =>
      q
        .insertInto('raw_reports')
        .values(unique.map((p) => rawReportRow(p, now)))
        .onConflict((oc) => oc.column('sha256').doNothing())
        .returning(['id', 'sha256']),
    )
    .selectFrom('stored')
    .select(['id', 'sha256', sql<boolean>`true`.as('fresh')])
    // The statement's snapshot predates its own insert: this half sees only earlier reports.
    .unionAll((q) =>
      q
        .selectFrom('raw_reports')
        .select(['id', 'sha256', sql<boolean>`false`.as('fresh')])
        .where('sha256', 'in', unique.map((p) => p.sha256)),
    )
    .execute();
  const ids = new Map(rows.map((r) => [r.sha256, r]));
  // Stored meanwhile by a concurrent statement (ON CONFLICT waited for it to commit, but this
  // statement's snapshot predates it): a new statement sees it. Nothing of ours is undone here:
  // the insert above has committed.
  const missing = unique.filter((p) => !ids.has(p.sha256)).map((p) => p.sha256);
  if (missing.length > 0) {
    for (const r of await db.selectFrom('raw_reports').select(['id', 'sha256']).where('sha256', 'in', missing).execute()) {
      ids.set(r.sha256, { ...r, fresh: false });
    }
  }
  const claimed = new Set<string>();
  return batch.map((p) => {
    const row = ids.get(p.sha256);
    if (!row) throw new Error(`raw report ${p.sha256} neither stored nor found`);
    const isNew = row.fresh && !claimed.has(p.sha256);
    claimed.add(p.sha256);
    return { reportId: row.id, duplicate: !isNew, kind: p.report.kind, correlated: 0, events: 0, pending: isNew };
  });
}

export interface Applier {
  notify(): void;
  stop(): Promise<void>;
}

/** Applies stored reports as they come, and sweeps for leftovers every `sweepMs`. */
export function startApplier(app: App, metrics: IngestMetrics, opts: GroupOptions = {}): Applier {
  const log = app.log.child({ role: 'ingest' });
  const limit = opts.maxApplyBatch ?? 100;
  let dirty = true;
  let stopped = false;
  let wake: () => void = () => {};
  const loop = (async () => {
    while (!stopped) {
      if (dirty) {
        dirty = false;
        try {
          if ((await applyPending(app, metrics, limit)) > 0) dirty = true;
        } catch (err) {
          log.error({ err, code: 'MT_ERR_INGEST_APPLY' }, 'applying stored reports failed; retrying later');
        }
        if (dirty) continue;
      }
      // No await between this check and arming `wake`: a stop() can not slip in between.
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          dirty = true;
          resolve();
        }, opts.sweepMs ?? 5_000);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  })();
  return {
    notify() {
      dirty = true;
      wake();
    },
    async stop() {
      stopped = true;
      wake();
      await loop;
    },
  };
}

/**
 * Applies up to `limit` unapplied reports in one transaction; if that fails, one per transaction,
 * so a report that cannot be applied holds back only itself. Returns how many were applied.
 */
export async function applyPending(app: App, metrics: IngestMetrics, limit: number): Promise<number> {
  const take = (trx: Transaction<DB>, n: number, afterId = 0) =>
    trx
      .selectFrom('raw_reports')
      .select(['id', 'sha256', 'parse', 'envelope', 'received_at', 'kind'])
      .where('applied_at', 'is', null)
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(n)
      .forUpdate()
      .skipLocked()
      .execute();
  // All of them in one appendEventsBatch: a constant number of statements for the events.
  const apply = async (trx: Transaction<DB>, rows: Awaited<ReturnType<typeof take>>) => {
    const out = await applyStoredBatch(
      trx,
      app,
      rows.map((r) => ({ id: r.id, sha256: r.sha256, report: r.parse as never, envelope: r.envelope as never, receivedAt: r.received_at })),
    );
    return rows.map((r, i) => ({ kind: r.kind ?? 'unknown', outcome: out[i].correlated > 0 ? 'correlated' : 'uncorrelated' }));
  };
  const count = (results: Array<{ kind: string; outcome: string }>) => {
    for (const r of results) metrics.reports.inc(r);
    return results.length;
  };
  try {
    return count(await inTransaction(app, async (trx) => apply(trx, await take(trx, limit))));
  } catch (err) {
    app.log.warn({ err, code: 'MT_ERR_INGEST_APPLY' }, 'batch apply failed; applying one by one');
    let done = 0;
    let after = 0;
    for (let i = 0; i < limit; i++) {
      const before = after;
      try {
        const n = await inTransaction(app, async (trx) => {
          const rows = await take(trx, 1, after);
          if (rows.length > 0) after = rows[0].id;
          return count(await apply(trx, rows));
        });
        if (n === 0) break;
        done += n;
      } catch (one) {
        if (after === before) {
          // Nothing was taken: no report is at fault, the database itself is failing.
          app.log.error({ err: one, code: 'MT_ERR_INGEST_APPLY' }, 'could not read pending reports (database failing); they stay pending');
          break;
        }
        app.log.error({ err: one, code: 'MT_ERR_INGEST_APPLY', report_id: after }, 'could not apply a stored report; it stays pending');
      }
    }
    return done;
  }
}
