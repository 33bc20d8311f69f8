import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CompiledQuery, Kysely, Migrator, PostgresDialect, type MigrationResultSet } from 'kysely';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { PGliteDialect } from './pglite-dialect.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import { migrations } from './migrations/index.js';
import { ensureEventPartitions } from './partitions.js';
import type { DB } from './types.js';

export type Dialect = 'pg' | 'pglite';

/** A statement with `$n` placeholders and a name unique in the process (see Database.prepared). */
export interface PreparedStatement {
  name: string;
  text: string;
}

export interface Database {
  db: Kysely<DB>;
  dialect: Dialect;
  /** Whether the database answers right now (for /readyz). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
  /**
   * Opens every pooled connection and has each load the catalog of the hot tables, so the first
   * requests after a start do not pay for connecting and for reading each events partition's
   * metadata (measured: ~3 ms per connection on its first query over `events`).
   */
  warm(): Promise<void>;
  /**
   * Runs a hot read as a named prepared statement: on Postgres each connection parses and plans
   * it once instead of on every call (measured on the API's message read: 4.4k → 6.2k queries/s).
   * Outside any transaction; rows come through the same type parsers as Kysely's.
   */
  prepared<R>(statement: PreparedStatement, values: readonly unknown[]): Promise<R[]>;
  /** PGlite only: a dump of the whole data dir (the tests' migrated template). */
  snapshot?(): Promise<Blob>;
}

// Plans and runs an index probe on messages and on every events partition: what a connection
// needs loaded before the API's hot read is fast.
const WARM_QUERY = `select 1 from messages m join events e on e.message_id = m.id
  where m.id = '00000000-0000-0000-0000-000000000000' and e.message_id = '00000000-0000-0000-0000-000000000000'`;

// int8 (counts, sequences) as numbers on both drivers; our values stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

export interface ConnectOptions {
  databaseUrl?: string;
  /** Folder of the embedded database; `memory://` keeps it in memory (tests). */
  dataDir: string;
  poolSize?: number;
  /** PGlite only: start from this data-dir dump instead of running initdb (tests use a migrated template). */
  pgliteSnapshot?: Blob;
}

/** Opens real Postgres when a URL is given, else embedded PGlite in `<dataDir>/pglite`. */
export async function connectDatabase(opts: ConnectOptions): Promise<Database> {
  if (opts.databaseUrl) {
    const max = opts.poolSize ?? 10;
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max,
      // Connections stay open once made: pg's default closes them after 10 s idle, and the next
      // burst then pays for new connections and a cold catalog cache in the tail of its latency.
      // They are recycled hourly so no backend grows for ever.
      min: max,
      maxLifetimeSeconds: 3_600,
      connectionTimeoutMillis: 5_000,
    });
    // An idle client losing its server (Postgres restart) must not crash the process.
    pool.on('error', () => {});
    // A checked-out client has no pool listener: its socket dying mid-query (Postgres restart,
    // network cut) would emit an unhandled 'error' and crash the process. The query itself is
    // still rejected, so the caller sees the failure.
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    return {
      db,
      dialect: 'pg',
      ping: () => ping(db),
      close: () => db.destroy(),
      prepared: async <R>(st: PreparedStatement, values: readonly unknown[]) =>
        (await pool.query<R & pg.QueryResultRow>({ name: st.name, text: st.text, values: [...values] })).rows,
      warm: async () => {
        const clients = await Promise.all(Array.from({ length: max }, () => pool.connect()));
        try {
          await Promise.all(clients.map((c) => c.query(WARM_QUERY)));
        } finally {
          for (const c of clients) c.release();
        }
      },
    };
  }
  let dataDir: string | undefined;
  let lock: DataDirLock | undefined;
  if (opts.dataDir !== 'memory://') {
    dataDir = join(resolve(opts.dataDir), 'pglite');
    mkdirSync(dataDir, { recursive: true });
    // One owner per data dir: a second PGlite on the same files silently loses writes (issue 14.2).
    lock = acquireDataDirLock(resolve(opts.dataDir));
  }
  let pglite: PGlite;
  try {
    pglite = new PGlite({ dataDir, loadDataDir: opts.pgliteSnapshot, parsers: { 20: (v: string) => Number(v) } });
    await pglite.waitReady;
  } catch (err) {
    lock?.release();
    throw err;
  }
  const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    dialect: 'pglite',
    ping: () => ping(db),
    close: async () => {
      try {
        await db.destroy();
      } finally {
        lock?.release();
      }
    },
    // The driver's queue keeps it out of another caller's transaction on the one session.
    prepared: async <R>(st: PreparedStatement, values: readonly unknown[]) => (await db.executeQuery<R>(CompiledQuery.raw(st.text, [...values]))).rows,
    // One in-process connection: nothing to open ahead.
    warm: async () => {},
    snapshot: () => pglite.dumpDataDir('none'),
  };
}

async function ping(db: Kysely<DB>): Promise<boolean> {
  try {
    await db.selectNoFrom((eb) => eb.lit(1).as('one')).execute();
    return true;
  } catch {
    return false;
  }
}

/** Applies every pending migration and makes sure this month's event partitions exist. */
export async function migrate(db: Kysely<any>, now = new Date()): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'mailtrail_migrations',
    migrationLockTableName: 'mailtrail_migrations_lock',
  });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`migration ${failed} failed: ${(result.error as Error).message ?? result.error}`);
  }
  await ensureEventPartitions(db, now);
  return result;
}
