import { Counter, Gauge, type Registry } from 'prom-client';
import type { App } from '../app.js';
import type { Insertable } from 'kysely';
import type { Database, PreparedStatement } from '../db/connect.js';
import type { TrackingHitsTable } from '../db/types.js';

export type NewHit = Insertable<TrackingHitsTable>;

interface Waiter {
  hit: NewHit;
  done: (recorded: boolean) => void;
}

/** Rows per INSERT statement: a bound on the size of its array parameters (see insertHits). */
const ROWS_PER_STATEMENT = 1_000;
/** Hits kept in memory while the database refuses writes; beyond this the oldest are lost (counted). */
const MAX_BACKLOG = 50_000;
const RETRY_MS = 1_000;
const LOG_EVERY_MS = 5_000;

interface HitMetrics {
  recorded: Counter;
  failed: Counter;
  lost: Counter;
  backlog: Gauge;
}

function metric<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

function hitMetrics(registry: Registry): HitMetrics {
  const registers = [registry];
  return {
    recorded: metric(registry, 'mailtrail_tracking_hits_recorded_total', () => new Counter({ name: 'mailtrail_tracking_hits_recorded_total', help: 'Pixel/click hits committed to the database.', registers })),
    failed: metric(registry, 'mailtrail_tracking_hit_write_failures_total', () => new Counter({ name: 'mailtrail_tracking_hit_write_failures_total', help: 'Hits whose write failed; they stay in memory and are retried.', registers })),
    lost: metric(registry, 'mailtrail_tracking_hits_lost_total', () => new Counter({ name: 'mailtrail_tracking_hits_lost_total', help: 'Hits never written: backlog overflow while the database was down, or shutdown before it came back.', registers })),
    backlog: metric(registry, 'mailtrail_tracking_hits_backlog', () => new Gauge({ name: 'mailtrail_tracking_hits_backlog', help: 'Hits waiting in memory for the database to come back.', registers })),
  };
}

/**
 * One INSERT of seven array parameters, whatever the number of rows, as a prepared statement: a
 * multi-row VALUES list would cost a parse and plan proportional to the batch on every flush.
 */
const INSERT_HITS: PreparedStatement = {
  name: 'mt_insert_tracking_hits',
  text: `insert into tracking_hits (message_id, kind, url, method, user_agent, ip, occurred_at)
    select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])`,
};

async function insertHits(database: Database, rows: readonly NewHit[]): Promise<void> {
  const col = <T>(f: (h: NewHit) => T) => rows.map(f);
  await database.prepared(INSERT_HITS, [
    col((h) => h.message_id),
    col((h) => h.kind),
    col((h) => h.url ?? null),
    col((h) => h.method),
    col((h) => h.user_agent ?? null),
    col((h) => h.ip ?? null),
    col((h) => new Date(h.occurred_at).toISOString()),
  ]);
}

/**
 * Group commit for tracking hits: the hits that arrive in one turn of the event loop (or within
 * MAILTRAIL_TRACKING_FLUSH_MS) are written by one statement, while up to `maxInFlight` writes run
 * the next hits gather behind them, and every waiting request is answered after its commit.
 *
 * When the write fails (database down), requests are still answered — a recipient must not get a
 * broken image or a dead link because of us — and their hits stay in a bounded in-memory backlog
 * that is retried every second. Hits that cannot be kept are counted and logged
 * (MT_ERR_TRACKING_LOST), never dropped silently.
 */
export class HitRecorder {
  private queue: Waiter[] = [];
  private backlog: NewHit[] = [];
  private timer: { cancel(): void } | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  /** Writes that may run at once: a pool overlaps their round trips; PGlite runs one at a time anyway. */
  private readonly maxInFlight: number;
  private closed = false;
  private lastLog = 0;
  private readonly metrics: HitMetrics;

  constructor(private readonly app: App) {
    this.metrics = hitMetrics(app.metrics);
    this.maxInFlight = app.database.dialect === 'pg' ? 4 : 1;
  }

  /** Resolves true once the hit is committed, false if it is only kept in memory for a retry. */
  record(hit: NewHit): Promise<boolean> {
    if (this.closed) return Promise.resolve(this.keep([hit]));
    return new Promise((done) => {
      this.queue.push({ hit, done });
      if (this.queue.length >= ROWS_PER_STATEMENT) this.schedule(0);
      else this.schedule(this.app.config.MAILTRAIL_TRACKING_FLUSH_MS);
    });
  }

  /** Writes what is pending; whatever still cannot be written is counted as lost. */
  async close(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    this.timer = null;
    await Promise.all(this.inFlight);
    while ((this.queue.length > 0 || this.backlog.length > 0) && (await this.flush()));
    if (this.backlog.length > 0) {
      this.lose(this.backlog.length, 'shutdown with the database unreachable');
      this.backlog = [];
      this.metrics.backlog.set(0);
    }
  }

  /**
   * Starts a write after `ms`, or on the next turn of the event loop for 0: every hit that arrived
   * in this turn goes in one statement, and while writes are in flight the next ones batch up.
   */
  private schedule(ms: number): void {
    if (this.timer || this.closed || this.inFlight.size >= this.maxInFlight) return;
    const fire = () => {
      this.timer = null;
      const write: Promise<void> = this.flush().then((ok) => {
        this.inFlight.delete(write);
        if (this.queue.length > 0 || (ok && this.backlog.length > 0)) this.schedule(0);
        else if (this.backlog.length > 0) this.schedule(RETRY_MS);
      });
      this.inFlight.add(write);
      // Hits that keep arriving while this write runs start the next one (up to maxInFlight).
      if (this.queue.length > 0) this.schedule(this.app.config.MAILTRAIL_TRACKING_FLUSH_MS);
    };
    if (ms === 0) {
      const t = setImmediate(fire);
      this.timer = { cancel: () => clearImmediate(t) };
    } else {
      const t = setTimeout(fire, ms);
      this.timer = { cancel: () => clearTimeout(t) };
    }
  }

  /** One statement: the waiting requests' hits, then as many kept ones as fit. False if it failed. */
  private async flush(): Promise<boolean> {
    const waiters = this.queue.splice(0, ROWS_PER_STATEMENT);
    const retried = this.backlog.splice(0, ROWS_PER_STATEMENT - waiters.length);
    const rows = [...waiters.map((w) => w.hit), ...retried];
    if (rows.length === 0) return true;
    try {
      // One statement is atomic on its own; BEGIN/COMMIT would add two round trips per flush.
      await insertHits(this.app.database, rows);
      this.metrics.recorded.inc(rows.length);
      this.metrics.backlog.set(this.backlog.length);
      for (const w of waiters) w.done(true);
      return true;
    } catch (err) {
      this.metrics.failed.inc(waiters.length);
      this.backlog.unshift(...retried);
      this.keep(waiters.map((w) => w.hit));
      const now = Date.now();
      if (now - this.lastLog >= LOG_EVERY_MS) {
        this.lastLog = now;
        this.app.log.error({ err, code: 'MT_ERR_TRACKING_WRITE', backlog: this.backlog.length }, 'tracking hits not written; kept in memory and retried');
      }
      for (const w of waiters) w.done(false);
      return false;
    }
  }

  private keep(hits: NewHit[]): false {
    this.backlog.push(...hits);
    const over = this.backlog.length - MAX_BACKLOG;
    if (over > 0) {
      this.backlog.splice(0, over);
      this.lose(over, 'backlog full while the database is unreachable');
    }
    this.metrics.backlog.set(this.backlog.length);
    if (this.closed) {
      this.lose(this.backlog.length, 'hit after shutdown');
      this.backlog = [];
      this.metrics.backlog.set(0);
    } else {
      this.schedule(RETRY_MS);
    }
    return false;
  }

  private lose(n: number, why: string): void {
    this.metrics.lost.inc(n);
    this.app.log.error({ code: 'MT_ERR_TRACKING_LOST', lost: n }, `tracking hits lost: ${why}`);
  }
}
