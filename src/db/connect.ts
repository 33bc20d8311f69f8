import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Kysely, Migrator, PostgresDialect, type MigrationResultSet } from 'kysely';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { PGliteDialect } from './pglite-dialect.js';
import { migrations } from './migrations/index.js';
import { ensureEventPartitions } from './partitions.js';
import type { DB } from './types.js';

export type Dialect = 'pg' | 'pglite';

export interface Database {
  db: Kysely<DB>;
  dialect: Dialect;
  /** Whether the database answers right now (for /readyz). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
  /** PGlite only: a dump of the whole data dir (the tests' migrated template). */
  snapshot?(): Promise<Blob>;
}

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
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.poolSize ?? 10,
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
    };
  }
  let dataDir: string | undefined;
  if (opts.dataDir !== 'memory://') {
    dataDir = join(resolve(opts.dataDir), 'pglite');
    mkdirSync(dataDir, { recursive: true });
  }
  const pglite = new PGlite({ dataDir, loadDataDir: opts.pgliteSnapshot, parsers: { 20: (v: string) => Number(v) } });
  await pglite.waitReady;
  const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    dialect: 'pglite',
    ping: () => ping(db),
    close: () => db.destroy(),
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
