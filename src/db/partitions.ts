import { sql, type Kysely } from 'kysely';

/**
 * Creates the monthly partitions of `events` from this month to `monthsAhead` ahead, so that
 * rows never land in the default partition (which would block creating their month later).
 */
export async function ensureEventPartitions(db: Kysely<any>, now: Date, monthsAhead = 2): Promise<void> {
  for (let i = 0; i <= monthsAhead; i++) {
    const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1));
    const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i + 1, 1));
    const name = `events_${from.getUTCFullYear()}_${String(from.getUTCMonth() + 1).padStart(2, '0')}`;
    const { rows } = await sql<{ exists: string | null }>`select to_regclass(${name})::text as exists`.execute(db);
    if (rows[0]?.exists) continue;
    await sql`create table if not exists ${sql.id(name)} partition of events
      for values from (${sql.lit(from.toISOString())}) to (${sql.lit(to.toISOString())})`.execute(db);
  }
}
