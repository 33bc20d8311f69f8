import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { connectDatabase, type Database } from '../../src/db/connect.js';
import { ensureTenant } from '../../src/db/tenants.js';
import { createLog } from '../../src/log.js';
import { buildHttp } from '../../src/server/http.js';
import { clickUrl, openUrl } from '../../src/tracking/urls.js';
import { dialect, testApp, TEST_SECRET, type TestApp } from '../support/app.js';
import { insertMessage } from '../support/messages.js';

/** A TCP hop in front of Postgres that can be cut (every connection reset) and restored. */
class Cable {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;
  constructor(private readonly target: { host: string; port: number }) {}
  async up(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => this.sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server?.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }
  async cut(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server?.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

// A real outage needs a server to lose: only with DATABASE_URL (PGlite runs in-process).
describe.skipIf(dialect !== 'pg')('tracking while Postgres goes away and comes back', () => {
  let t: TestApp;
  let cable: Cable;
  let database: Database;
  let app: App;

  beforeAll(async () => {
    t = await testApp();
    const url = new URL(t.url as string);
    cable = new Cable({ host: url.hostname, port: Number(url.port || 5432) });
    await cable.up();
    url.host = `127.0.0.1:${cable.port}`;
    database = await connectDatabase({ databaseUrl: url.toString(), dataDir: 'unused', poolSize: 4 });
    app = createApp({ config: t.app.config, database, log: createLog('silent'), secret: TEST_SECRET });
  });
  afterAll(async () => {
    await database?.close();
    await cable?.cut();
    await t?.close();
  });

  it('answers every hit during the outage and writes them all once the database is back', async () => {
    const tenant = await ensureTenant(t.app.database.db, 'acme');
    const id = await insertMessage(t.app.database.db, tenant.id);
    const http = await buildHttp(app);
    const count = async () => Number((await sql<{ n: number }>`select count(*)::int as n from tracking_hits where message_id = ${id}`.execute(t.app.database.db)).rows[0].n);
    try {
      expect((await http.inject({ url: new URL(openUrl(app, id)).pathname })).statusCode).toBe(200);
      expect(await count()).toBe(1);

      await cable.cut();
      const during = await Promise.all([
        ...Array.from({ length: 5 }, () => http.inject({ url: new URL(openUrl(app, id)).pathname })),
        http.inject({ url: new URL(clickUrl(app, id, 'https://shop.example/x')).pathname }),
      ]);
      expect(during.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200, 302]);
      expect(await count()).toBe(1);
      expect(await app.metrics.metrics()).toMatch(/mailtrail_tracking_hits_backlog 6/);

      await cable.up();
      const deadline = Date.now() + 30_000;
      while ((await count()) < 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(await count()).toBe(7);
      expect(await app.metrics.metrics()).toMatch(/mailtrail_tracking_hits_backlog 0/);
      expect(await app.metrics.metrics()).toMatch(/mailtrail_tracking_hits_lost_total 0/);
    } finally {
      await http.close();
    }
  });
});
