import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '../../src/db/connect.js';
import { dialect, freshDatabase, type TestDatabase } from '../support/app.js';

describe('database connections', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshDatabase();
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('runs a prepared statement with parameters, on either driver', async () => {
    const st = { name: 'mt_test_prepared', text: 'select $1::int + $2::int as sum, $3::text[] as list' };
    for (let i = 0; i < 3; i++) {
      expect(await t.database.prepared<{ sum: number; list: string[] }>(st, [i, 1, ['a', 'b']])).toEqual([{ sum: i + 1, list: ['a', 'b'] }]);
    }
  });

  it.skipIf(dialect !== 'pg')('opens every pooled connection ahead and keeps it while idle', async () => {
    const url = new URL(t.url as string);
    url.searchParams.set('application_name', 'mt_warm_test');
    let database: Database | undefined;
    const open = async () =>
      Number((await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where application_name = 'mt_warm_test'`.execute(t.database.db)).rows[0].n);
    try {
      database = await connectDatabase({ databaseUrl: url.toString(), dataDir: 'unused', poolSize: 3 });
      expect(await open()).toBe(0);
      await database.warm();
      expect(await open()).toBe(3);
      // pg's default would close idle connections after 10 s; ours stay.
      await new Promise((r) => setTimeout(r, 11_000));
      expect(await open()).toBe(3);
    } finally {
      await database?.close();
    }
  }, 30_000);

  it.skipIf(dialect !== 'pg')('fails to warm up, without hanging, when the server is unreachable', async () => {
    const database = await connectDatabase({ databaseUrl: 'postgres://nobody@127.0.0.1:27999/none', dataDir: 'unused', poolSize: 2 });
    try {
      await expect(database.warm()).rejects.toThrow();
    } finally {
      await database.close();
    }
  });
});
