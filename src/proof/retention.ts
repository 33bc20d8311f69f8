import type { App } from '../app.js';
import { chainPurge } from './chain.js';

/**
 * Purges raw report bodies older than MAILTRAIL_RAW_RETENTION: the body goes, its sha256 stays,
 * and a purge entry in each chain that holds the report records when. One report per
 * transaction; returns how many were purged (0 when retention is off or nothing is due).
 */
export async function purgeExpiredReports(app: App, limit = 100): Promise<number> {
  const retention = app.config.MAILTRAIL_RAW_RETENTION;
  if (retention === undefined) return 0;
  const now = app.clock.now();
  const db = app.database.db;
  const due = await db
    .selectFrom('raw_reports')
    .select('id')
    .where('raw', 'is not', null)
    .where('received_at', '<', new Date(now.getTime() - retention))
    .orderBy('id')
    .limit(limit)
    .execute();
  let purged = 0;
  for (const { id } of due) {
    const done = await db.transaction().execute(async (trx) => {
      // The row lock makes a second node skip a report this one purges.
      const row = await trx
        .updateTable('raw_reports')
        .set({ raw: null, purged_at: now })
        .where('id', '=', id)
        .where('raw', 'is not', null)
        .returning(['id', 'sha256'])
        .executeTakeFirst();
      if (!row) return false;
      await chainPurge(trx, { id: Number(row.id), sha256: row.sha256 }, now);
      return true;
    });
    if (done) purged++;
  }
  return purged;
}
