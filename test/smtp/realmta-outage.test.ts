import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { verpAddress } from '../../src/core/tokens.js';
import { connectDatabase, migrate } from '../../src/db/connect.js';
import { listMessageEvents } from '../../src/db/events.js';
import { ensureTenant } from '../../src/db/tenants.js';
import { createLog } from '../../src/log.js';
import { serve, type Running } from '../../src/server/serve.js';
import { dialect, TEST_SECRET } from '../support/app.js';
import { insertMessage } from '../support/messages.js';
import { freePort } from './client.js';
import { PgCluster, pgBin } from './pg-cluster.js';
import { realmtaUnavailable, runRealmta } from './realmta.js';
import { allApplied, waitFor } from './wait.js';

const DOMAIN = 'bounces.test';
const bin = pgBin();
const why =
  realmtaUnavailable() ??
  (dialect !== 'pg' ? 'runs in the real-Postgres pass only (DATABASE_URL set): it stops and restarts a Postgres server' : null) ??
  (bin ? null : 'no Postgres server binaries (set MAILTRAIL_TEST_PG_BIN)');

/** Bounce categories with exactly one DSN each (realmta --quick, Postfix). */
const CATEGORIES: Array<[string, string]> = [
  ['user_unknown', 'nx-{id}@real-mta.test'],
  ['remote_user_unknown', 'nx-{id}@remote-mx.test'],
  ['mailbox_full', 'full@real-mta.test'],
  ['domain_not_found', 'someone-{id}@unroutable.test'],
];

describe.skipIf(why !== null)('Postgres outage while Postfix delivers DSNs', () => {
  let cluster: PgCluster | undefined;
  let app: App | undefined;
  let running: Running | undefined;
  afterAll(async () => {
    await running?.stop();
    await app?.database.close();
    cluster?.destroy();
  });

  it(
    'answers 4xx while the database is down, and after the restart every DSN is recorded exactly once',
    async () => {
      cluster = PgCluster.create(bin!, await freePort(26600, 26699));
      const port = await freePort(26700, 26799);
      const config = loadConfig({
        DATABASE_URL: cluster.url,
        MAILTRAIL_SECRET: TEST_SECRET,
        MAILTRAIL_DATA_DIR: 'memory://',
        MAILTRAIL_LOG_LEVEL: process.env.MAILTRAIL_TEST_LOG_LEVEL ?? 'silent',
        MAILTRAIL_BOUNCE_DOMAIN: DOMAIN,
        MAILTRAIL_SMTP_HOST: '127.0.0.1',
        MAILTRAIL_SMTP_PORT: String(port),
      });
      const database = await connectDatabase({ databaseUrl: config.DATABASE_URL, dataDir: 'unused', poolSize: 5 });
      await migrate(database.db);
      app = createApp({ config, database, log: createLog(config.MAILTRAIL_LOG_LEVEL), secret: TEST_SECRET });
      const db = database.db;
      const tenantId = (await ensureTenant(db, 'outage')).id;
      const messages: Array<{ id: string; verp: string; recipient: string; category: string }> = [];
      for (let n = 0; n < 16; n++) {
        const [category, pattern] = CATEGORIES[n % CATEGORIES.length];
        const id = await insertMessage(db, tenantId, `pending-${n}@realmta.test`);
        const recipient = pattern.replace('{id}', id);
        const verp = verpAddress(TEST_SECRET, id, DOMAIN);
        await db.updateTable('messages').set({ envelope_from: verp, recipient, recipient_key: recipient, recipient_domain: recipient.split('@')[1] }).where('id', '=', id).execute();
        messages.push({ id, verp, recipient, category });
      }
      running = await serve(app, ['smtp']);

      // Down before the first DSN arrives, so every DSN meets the outage; back once the
      // listener has turned several away.
      cluster.stop();
      const tempfails = async () => {
        const m = (await app!.metrics.getSingleMetric('mailtrail_smtp_messages_total')?.get())?.values ?? [];
        return m.find((v) => v.labels.outcome === 'tempfail')?.value ?? 0;
      };
      const run = runRealmta({
        port,
        senders: messages.map((m) => [m.id, m.verp]),
        args: ['--quick', '--categories', CATEGORIES.map((c) => c[0]).join(','), '--lifetime', '180', '--timeout', '300'],
        timeoutMs: 400_000,
      });
      await waitFor(async () => (await tempfails()) >= 4, 600_000, 'the listener to answer 4xx during the outage');
      await new Promise((r) => setTimeout(r, 3000));
      cluster.start();
      const result = await run;
      expect(result.code, result.output).toBe(0);
      await allApplied(db, 120_000);

      const notifications = result.observed.flatMap((o) => o.notifications ?? []);
      expect(notifications).toHaveLength(messages.length);
      expect(notifications.every((n) => n.to_listener?.reply.startsWith('250'))).toBe(true);
      expect(notifications.some((n) => (n.to_listener?.tries ?? 0) > 1)).toBe(true);
      for (const m of messages) {
        const events = await listMessageEvents(db, m.id);
        expect(events.map((e) => e.type), `${m.category} ${m.id}`).toEqual(['bounced']);
      }
      const reports = await db.selectFrom('raw_reports').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      expect(Number(reports.n)).toBe(messages.length);
      rmSync(result.workdir, { recursive: true, force: true });
    },
    900_000,
  );
});

if (why) describe.skip(`Postgres outage test: ${why}`, () => it('skipped', () => {}));
