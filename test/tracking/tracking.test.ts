import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App, type Clock } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { signToken } from '../../src/core/tokens.js';
import { uuidv7 } from '../../src/core/ids.js';
import { connectDatabase } from '../../src/db/connect.js';
import { appendEvents, listMessageEvents } from '../../src/db/events.js';
import { ensureTenant } from '../../src/db/tenants.js';
import { createLog } from '../../src/log.js';
import { submitMessage } from '../../src/send/submit.js';
import { buildHttp } from '../../src/server/http.js';
import { processHits } from '../../src/tracking/hits-job.js';
import { clickUrl, openUrl, unsubscribeUrl } from '../../src/tracking/urls.js';
import { dialect, testApp, TEST_SECRET, type TestApp } from '../support/app.js';

class ShiftedClock implements Clock {
  offset = 0;
  now() {
    return new Date(Date.now() + this.offset);
  }
}

const MIN = 60_000;
const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';
const GMAIL = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';
const path = (url: string) => new URL(url).pathname;

describe(`tracking endpoints on ${dialect}`, () => {
  let t: TestApp;
  let app: App;
  let http: FastifyInstance;
  let tenantId: string;
  const clock = new ShiftedClock();

  beforeAll(async () => {
    t = await testApp({ MAILTRAIL_PUBLIC_URL: 'https://track.test', MAILTRAIL_TRACKING_SETTLE: '5s' }, clock);
    app = t.app;
    tenantId = (await ensureTenant(app.database.db, 'acme')).id;
    http = await buildHttp(app);
  });
  afterAll(async () => {
    await http?.close();
    await t?.close();
  });

  /** A message the relay accepted at `sentAt` (default: now), with the given links in its HTML. */
  async function sentMessage(links: string[] = ['https://shop.example/a'], sentAt?: Date): Promise<string> {
    const r = await submitMessage(app, tenantId, {
      recipient: `r${Math.random().toString(36).slice(2)}@example.test`,
      from: 'news@acme.test',
      subject: 'Hi',
      html: `<p>Hello</p>${links.map((l) => `<a href="${l}">x</a>`).join(' ')}`,
    });
    if (!r.ok) throw new Error('submit failed');
    const at = sentAt ?? new Date(clock.now().getTime() + 1);
    await app.database.db.transaction().execute((trx) => appendEvents(trx, r.id, [{ type: 'sent', occurredAt: at, source: 'send' }]));
    return r.id;
  }
  const get = (url: string, ua: string | null = BROWSER, method: 'GET' | 'HEAD' = 'GET', ip = '203.0.113.7') =>
    http.inject({ method, url, remoteAddress: ip, headers: ua ? { 'user-agent': ua } : {} });
  const hitsStored = async () => Number((await sql<{ n: number }>`select count(*)::int as n from tracking_hits`.execute(app.database.db)).rows[0].n);
  /** Processes every stored hit: the clock moves past the settle time first. */
  async function settle(): Promise<void> {
    clock.offset += 10_000;
    while ((await processHits(app)) > 0);
  }
  const message = (id: string) => app.database.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  it('answers forged, altered and cross-purpose tokens with a plain 404, never a redirect, and records nothing', async () => {
    const id = await sentMessage();
    const before = await hitsStored();
    const click = signToken(TEST_SECRET, 'click', id, Buffer.from('https://shop.example/a'));
    const raw = Buffer.from(click, 'base64url');
    raw[20] ^= 0x01; // one byte of the bound URL
    const altered = raw.toString('base64url');
    const foreign = signToken('another-secret-0123456789abcdef0123456789', 'click', id, Buffer.from('https://evil.example/'));
    for (const url of [
      `/c/${altered}`,
      `/c/${foreign}`,
      `/c/${signToken(TEST_SECRET, 'open', id)}`,
      '/c/',
      '/c/%0d%0aLocation:%20https://evil.example',
      `/o/${click}`,
      '/o/AAAA',
      `/u/${signToken(TEST_SECRET, 'open', id)}`,
    ]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.headers.location, url).toBeUndefined();
      expect(res.headers['content-type'], url).toContain('text/plain');
    }
    const post = await http.inject({ method: 'POST', url: `/u/${signToken(TEST_SECRET, 'open', id)}`, payload: 'List-Unsubscribe=One-Click', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(post.statusCode).toBe(404);
    expect(await hitsStored()).toBe(before);
    expect((await message(id)).status).toBe('sent');
  });

  it('redirects only to http(s) targets, even from a correctly signed token (no open redirect)', async () => {
    const id = await sentMessage();
    for (const target of ['javascript:alert(1)', '//evil.example/', 'https://evil.example\\@good.example/', 'https://a.example/\r\nSet-Cookie: x=1']) {
      const res = await get(path(clickUrl(app, id, target)));
      expect(res.statusCode, target).toBe(404);
      expect(res.headers.location).toBeUndefined();
    }
    const long = `https://shop.example/${'p'.repeat(1900)}?q=1`;
    const ok = await get(path(clickUrl(app, id, long)));
    expect(ok.statusCode).toBe(302);
    expect(ok.headers.location).toBe(long);
  });

  it('writes every hit before answering it (group commit)', async () => {
    const id = await sentMessage();
    clock.offset += 30 * MIN;
    const before = await hitsStored();
    const answers = await Promise.all(Array.from({ length: 200 }, () => get(path(openUrl(app, id)))));
    expect(answers.every((a) => a.statusCode === 200 && a.rawPayload.length === 43)).toBe(true);
    // No waiting: the rows are there the moment the last answer is.
    expect(await hitsStored()).toBe(before + 200);
    await settle();
    expect((await message(id)).human_opens).toBe(200);
  });

  it('waits MAILTRAIL_TRACKING_SETTLE before turning hits into events', async () => {
    const id = await sentMessage([]);
    clock.offset += 30 * MIN;
    await get(path(openUrl(app, id)));
    expect(await processHits(app)).toBe(0);
    await settle();
    expect((await message(id)).status).toBe('opened');
  });

  it('does nothing for a genuine token of an unknown message', async () => {
    const ghost = uuidv7();
    expect((await get(path(openUrl(app, ghost)))).statusCode).toBe(200);
    await settle();
    expect(await listMessageEvents(app.database.db, ghost)).toHaveLength(0);
    expect(await hitsStored()).toBe(0);
  });

  it('counts a real Gmail open (image proxy) but not Apple MPP or HEAD prefetches; both counts are kept', async () => {
    const id = await sentMessage();
    clock.offset += 30 * MIN;
    await get(path(openUrl(app, id)), 'Mozilla/5.0', 'GET', '17.58.1.2');
    await get(path(openUrl(app, id)), BROWSER, 'HEAD');
    await settle();
    let msg = await message(id);
    expect(msg).toMatchObject({ status: 'sent', human_opens: 0, machine_opens: 2 });
    await get(path(openUrl(app, id)), GMAIL, 'GET', '66.249.84.10');
    await settle();
    msg = await message(id);
    expect(msg).toMatchObject({ status: 'opened', human_opens: 1, machine_opens: 2 });
    const opens = (await listMessageEvents(app.database.db, id)).filter((e) => e.type === 'opened').map((e) => e.data as { label: string; human: boolean; signals: string[] });
    expect(opens.map((o) => o.label).sort()).toEqual(['image-proxy', 'privacy-proxy', 'scanner']);
    expect(opens.find((o) => o.label === 'scanner')?.signals).toContain('head-request');
  });

  it('labels a link checker that hits every link within seconds as a scanner, then counts the person', async () => {
    const links = ['https://shop.example/a', 'https://shop.example/b', 'https://shop.example/c'];
    const id = await sentMessage(links);
    clock.offset += 20 * MIN;
    for (const l of links) {
      const res = await get(path(clickUrl(app, id, l)));
      expect(res.statusCode).toBe(302);
    }
    await settle();
    let msg = await message(id);
    expect(msg).toMatchObject({ status: 'sent', human_clicks: 0, machine_clicks: 3 });
    clock.offset += 5 * MIN;
    await get(path(clickUrl(app, id, links[1])));
    await settle();
    msg = await message(id);
    expect(msg).toMatchObject({ status: 'clicked', human_clicks: 1, machine_clicks: 3 });
  });

  it('measures "too fast" from delivery, not from submission', async () => {
    // Submitted long ago, deferred for hours, finally accepted by the relay just now.
    const id = await sentMessage(['https://shop.example/a']);
    await sql`update messages set created_at = ${new Date(clock.now().getTime() - 3 * 60 * MIN)} where id = ${id}`.execute(app.database.db);
    clock.offset += 3_000;
    await get(path(clickUrl(app, id, 'https://shop.example/a')));
    await settle();
    const [click] = (await listMessageEvents(app.database.db, id)).filter((e) => e.type === 'clicked');
    expect(click.data).toMatchObject({ human: false, label: 'scanner' });
    expect((click.data as { signals: string[] }).signals).toContain('fast-after-delivery');
  });

  it('unsubscribes only on a one-click body, form-encoded or multipart', async () => {
    const id = await sentMessage();
    const url = path(unsubscribeUrl(app, id));
    const empty = await http.inject({ method: 'POST', url, payload: '', headers: { 'content-type': 'text/plain' } });
    expect(empty.statusCode).toBe(400);
    expect((await message(id)).status).toBe('sent');
    const boundary = 'xyz';
    const multipart = `--${boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--${boundary}--\r\n`;
    const res = await http.inject({ method: 'POST', url, payload: multipart, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
    expect(res.statusCode).toBe(200);
    expect(res.headers.location).toBeUndefined();
    expect((await message(id)).status).toBe('unsubscribed');
  });

  it('keeps answering and keeps the hits when the database refuses the write, then writes them', async () => {
    const id = await sentMessage();
    clock.offset += 30 * MIN;
    const before = await hitsStored();
    await sql`alter table tracking_hits rename to tracking_hits_away`.execute(app.database.db);
    try {
      const pixel = await get(path(openUrl(app, id)));
      expect(pixel.statusCode).toBe(200);
      const click = await get(path(clickUrl(app, id, 'https://shop.example/a')));
      expect(click.statusCode).toBe(302);
      expect(click.headers.location).toBe('https://shop.example/a');
      const metrics = await app.metrics.metrics();
      expect(metrics).toMatch(/mailtrail_tracking_hit_write_failures_total \d+/);
      expect(metrics).toMatch(/mailtrail_tracking_hits_backlog 2/);
    } finally {
      await sql`alter table tracking_hits_away rename to tracking_hits`.execute(app.database.db);
    }
    // Retried every second: poll rather than sleep a fixed time.
    const deadline = Date.now() + 20_000;
    while ((await hitsStored()) < before + 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await hitsStored()).toBe(before + 2);
    await settle();
    expect((await message(id)).status).toBe('clicked');
  });
});

describe('tracking with the database unreachable', () => {
  it('still answers the pixel and the click, asks the unsubscriber to retry, and counts lost hits at shutdown', async () => {
    const config = loadConfig({ MAILTRAIL_DATA_DIR: 'memory://', MAILTRAIL_SECRET: TEST_SECRET, MAILTRAIL_LOG_LEVEL: 'silent', DATABASE_URL: 'postgres://nobody@127.0.0.1:27999/none' });
    const database = await connectDatabase({ databaseUrl: config.DATABASE_URL, dataDir: 'unused' });
    const app = createApp({ config, database, log: createLog('silent'), secret: TEST_SECRET });
    const http = await buildHttp(app);
    const id = uuidv7();
    try {
      const pixel = await http.inject({ method: 'GET', url: path(openUrl(app, id)) });
      expect(pixel.statusCode).toBe(200);
      expect(pixel.rawPayload.length).toBe(43);
      const click = await http.inject({ method: 'GET', url: path(clickUrl(app, id, 'https://shop.example/x')) });
      expect(click.statusCode).toBe(302);
      const unsub = await http.inject({
        method: 'POST',
        url: path(unsubscribeUrl(app, id)),
        payload: 'List-Unsubscribe=One-Click',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(unsub.statusCode).toBe(503);
    } finally {
      await http.close();
      await database.close();
    }
    expect(await app.metrics.metrics()).toMatch(/mailtrail_tracking_hits_lost_total 2/);
  });
});
