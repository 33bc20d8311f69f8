import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inject } from 'vitest';
import pg from 'pg';
import { createApp, type App, type Clock } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { connectDatabase, migrate, type Database } from '../../src/db/connect.js';
import { createLog } from '../../src/log.js';

/**
 * The database under test: a fresh Postgres database on the server named by DATABASE_URL (CI runs
 * the suite once that way), else a fresh in-memory PGlite. Never a mock.
 */
export const dialect: 'pg' | 'pglite' = process.env.DATABASE_URL ? 'pg' : 'pglite';

export interface TestDatabase {
  database: Database;
  /** URL of the fresh database (pg only), for tests that start the CLI. */
  url?: string;
  drop(): Promise<void>;
}

export async function freshDatabase(): Promise<TestDatabase> {
  const base = process.env.DATABASE_URL;
  if (!base) {
    const database = await connectDatabase({ dataDir: 'memory://', pgliteSnapshot: pgliteTemplate() });
    await migrate(database.db);
    return { database, drop: () => database.close() };
  }
  const name = `mt_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const database = await connectDatabase({ databaseUrl: url.toString(), dataDir: 'unused', poolSize: 5 });
  await migrate(database.db);
  return {
    database,
    url: url.toString(),
    async drop() {
      await database.close();
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

let template: Blob | undefined;

/** The migrated database dumped once by test/support/global-setup.ts. */
function pgliteTemplate(): Blob | undefined {
  // Outside vitest (the benchmarks use testApp too) there is no template: initdb as usual.
  let path: string | undefined;
  try {
    path = inject('pgliteTemplate');
  } catch {
    return undefined;
  }
  if (path && !template) template = new Blob([readFileSync(path)]);
  return template;
}

export const TEST_SECRET = 'test-secret-0123456789abcdef0123456789abcdef';

export interface TestApp {
  app: App;
  url?: string;
  close(): Promise<void>;
}

/** A full app on a fresh database; `env` overrides settings (MAILTRAIL_* names). */
export async function testApp(env: Record<string, string> = {}, clock?: Clock): Promise<TestApp> {
  const t = await freshDatabase();
  const config = loadConfig({
    MAILTRAIL_DATA_DIR: 'memory://',
    MAILTRAIL_SECRET: TEST_SECRET,
    MAILTRAIL_LOG_LEVEL: process.env.MAILTRAIL_TEST_LOG_LEVEL ?? 'silent',
    MAILTRAIL_BOUNCE_DOMAIN: 'bounces.test',
    ...(t.url ? { DATABASE_URL: t.url } : {}),
    ...env,
  });
  const app = createApp({
    config,
    database: t.database,
    log: createLog(config.MAILTRAIL_LOG_LEVEL),
    secret: TEST_SECRET,
    clock,
  });
  return { app, url: t.url, close: () => t.drop() };
}
