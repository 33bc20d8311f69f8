import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App, Clock } from '../../src/app.js';
import { planSms } from '../../src/core/sms-encoding.js';
import { signToken } from '../../src/core/tokens.js';
import { appendEvents, listMessageEvents } from '../../src/db/events.js';
import { ensureTenant } from '../../src/db/tenants.js';
import { buildHttp } from '../../src/server/http.js';
import { submitSms } from '../../src/sms/submit.js';
import { processHits } from '../../src/tracking/hits-job.js';
import { rewriteSmsLinks } from '../../src/tracking/sms-links.js';
import { dialect, testApp, TEST_SECRET, type TestApp } from '../support/app.js';

class ShiftedClock implements Clock {
  offset = 0;
  now() {
    return new Date(Date.now() + this.offset);
  }
}

const BROWSER = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36';
const SMS_LINK = /https:\/\/t\.test\/s\/([A-Za-z0-9_-]+)/g;
const tokensOf = (text: string) => [...text.matchAll(SMS_LINK)].map((m) => m[1]);

describe(`SMS click tracking on ${dialect}`, () => {
  let t: TestApp;
  let app: App;
  let http: FastifyInstance;
  let tenantId: string;
  const clock = new ShiftedClock();

  beforeAll(async () => {
    t = await testApp({ MAILTRAIL_PUBLIC_URL: 'https://t.test', MAILTRAIL_TRACKING_SETTLE: '5s', MAILTRAIL_SMS_DEFAULT_REGION: 'FR' }, clock);
    app = t.app;
    tenantId = (await ensureTenant(app.database.db, 'sms-links')).id;
    http = await buildHttp(app);
  });
  afterAll(async () => {
    await http?.close();
    await t?.close();
  });

  /** A queued SMS the SMSC accepted a minute ago (so a click now reads as a person's). */
  async function sentSms(text: string, click?: boolean): Promise<string> {
    const r = await submitSms(app, tenantId, { channel: 'sms', recipient: '+33612345678', from: 'Acme', text, ...(click === undefined ? {} : { tracking: { click } }) });
    if (!r.ok) throw new Error(`submit failed: ${JSON.stringify(r.issues)}`);
    const at = new Date(clock.now().getTime() - 60_000);
    await app.database.db.transaction().execute((trx) => appendEvents(trx, r.id, [{ type: 'sent', occurredAt: at, source: 'send' }]));
    return r.id;
  }
  const content = async (id: string) =>
    (await app.database.db.selectFrom('messages').select('content').where('id', '=', id).executeTakeFirstOrThrow()).content as unknown as {
      text: string;
      segments: number;
      encoding: string;
      links_urls: string[];
    };
  const get = (path: string) => http.inject({ method: 'GET', url: path, remoteAddress: '203.0.113.9', headers: { 'user-agent': BROWSER } });
  const hitsStored = async () => Number((await sql<{ n: number }>`select count(*)::int as n from tracking_hits`.execute(app.database.db)).rows[0].n);
  async function settle(): Promise<void> {
    clock.offset += 10_000;
    while ((await processHits(app)) > 0);
  }
  const clicks = async (id: string) => (await listMessageEvents(app.database.db, id)).filter((e) => e.type === 'clicked');

  it('rewrites each link to a short /s/ link before counting segments, and each redirects to its target and records clicked', async () => {
    const a = 'https://shop.example/promo?utm_source=sms&x=1';
    const b = 'http://acme.example/stop';
    const original = `Soldes ! ${a}. Infos (${b}) et encore ${a}`;
    const id = await sentSms(original);
    const c = await content(id);
    const tokens = tokensOf(c.text);
    expect(tokens).toHaveLength(3);
    expect(new Set(tokens).size).toBe(2); // one link per distinct URL
    expect(c.text).toBe(`Soldes ! https://t.test/s/${tokens[0]}. Infos (https://t.test/s/${tokens[1]}) et encore https://t.test/s/${tokens[0]}`);
    expect(tokens[0].length).toBeLessThanOrEqual(36);
    expect(c.links_urls).toEqual([a, b]);
    const plan = planSms(c.text);
    expect(c.segments).toBe(plan.segments.length);
    expect(c.segments).toBeGreaterThan(planSms(original).segments.length); // counted on the rewritten text
    expect(c.encoding).toBe(plan.encoding);

    const ra = await get(`/s/${tokens[0]}`);
    expect(ra.statusCode).toBe(302);
    expect(ra.headers.location).toBe(a);
    const rb = await get(`/s/${tokens[1]}`);
    expect(rb.statusCode).toBe(302);
    expect(rb.headers.location).toBe(b);
    await settle();
    const events = await clicks(id);
    expect(events.map((e) => (e.data as { url: string }).url).sort()).toEqual([a, b].sort());
    expect(events.every((e) => e.source === 'tracking')).toBe(true);
    // Both links of the message within seconds: labelled as email clicks are (a link scanner).
    expect(events.map((e) => (e.data as { label: string; human: boolean })).every((d) => d.label === 'scanner' && !d.human)).toBe(true);
  });

  it('answers forged, altered, truncated and cross-message tokens with 404 and records nothing', async () => {
    const id = await sentSms('one https://shop.example/one');
    const other = await sentSms('two https://shop.example/two and https://shop.example/three');
    const [token] = tokensOf((await content(id)).text);
    const raw = Buffer.from(token, 'base64url');
    const flip = (at: number) => {
      const b = Buffer.from(raw);
      b[at] ^= 0x01;
      return b.toString('base64url');
    };
    const before = await hitsStored();
    const eventsBefore = (await clicks(id)).length + (await clicks(other)).length;
    for (const bad of [
      flip(3), // the message id
      flip(16), // the link index
      flip(raw.length - 1), // the tag
      token.slice(0, -1), // truncated
      token.slice(0, 22),
      signToken(TEST_SECRET, 'sms-link', other, Buffer.from([5])), // genuine, but no link 5 in that message
      signToken(TEST_SECRET, 'sms-link', id, Buffer.from([1])), // genuine, index of another message's link
      signToken(TEST_SECRET, 'click', id, Buffer.from([0])), // another purpose's token
      signToken('another-secret-0123456789abcdef0123456789', 'sms-link', id, Buffer.from([0])),
      signToken(TEST_SECRET, 'sms-link', id, Buffer.from([0, 0])), // extra bytes
      '',
    ]) {
      const r = await get(`/s/${bad}`);
      expect(r.statusCode, bad).toBe(404);
      expect(r.headers.location).toBeUndefined();
    }
    expect(await hitsStored()).toBe(before);
    await settle();
    expect((await clicks(id)).length + (await clicks(other)).length).toBe(eventsBefore);
    // The target is the stored one whatever the request adds: no open redirect.
    const r = await get(`/s/${token}?u=https://evil.example/&url=https://evil.example/`);
    expect(r.statusCode).toBe(302);
    expect(r.headers.location).toBe('https://shop.example/one');
    await settle();
    expect((await clicks(id)).map((e) => e.data)).toMatchObject([{ url: 'https://shop.example/one', human: true, label: 'human' }]);
  });

  it('refuses a text that its tracked links make longer than 10 parts, and takes it untracked', async () => {
    const links = Array.from({ length: 10 }, (_, i) => `http://a.example/${i}`).join(' ');
    const text = `${'x'.repeat(1_300)} ${links}`;
    expect(planSms(text).segments.length).toBeLessThanOrEqual(10);
    const r = await submitSms(app, tenantId, { channel: 'sms', recipient: '+33612345678', from: 'Acme', text });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues[0]).toMatchObject({ path: ['text'], message: expect.stringContaining('tracked links') });
    const plain = await submitSms(app, tenantId, { channel: 'sms', recipient: '+33612345678', from: 'Acme', text, tracking: { click: false } });
    expect(plain.ok).toBe(true);
  });

  it('leaves links alone when tracking.click is false', async () => {
    const text = 'Code 1234: https://shop.example/a';
    const id = await sentSms(text, false);
    const c = await content(id);
    expect(c.text).toBe(text);
    expect(c.links_urls).toEqual([]);
    expect(c.segments).toBe(planSms(text).segments.length);
  });

  it('finds URLs in linear time, whatever the text around them', () => {
    // Each ×8 step in size must cost well under ×64 (quadratic); a loaded machine gets a wide margin.
    const SIZES = [2 * 1024, 16 * 1024, 128 * 1024];
    const MAX_STEP = 24;
    const keys = { config: app.config, secret: TEST_SECRET };
    const time = (text: string) => {
      const runs: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        rewriteSmsLinks(keys, '0190a6f2-0000-7000-8000-000000000000', text);
        runs.push(performance.now() - t0);
      }
      return Math.max(2, runs.sort((x, y) => x - y)[1]);
    };
    const shapes: Record<string, (n: number) => string> = {
      'trailing punctuation then a letter': (n) => `https://a.example/${'.'.repeat(n)}x`,
      'trailing punctuation run': (n) => `https://a.example/${')'.repeat(n)}`,
      'many schemes': (n) => 'http://'.repeat(Math.ceil(n / 7)),
      'almost schemes': (n) => 'https:/'.repeat(Math.ceil(n / 7)),
      'one long URL': (n) => `https://a.example/${'a'.repeat(n)}`,
      'many short URLs': (n) => 'https://a.example/b '.repeat(Math.ceil(n / 20)),
    };
    for (const [name, make] of Object.entries(shapes)) {
      let prev = time(make(SIZES[0]));
      for (const size of SIZES.slice(1)) {
        const cur = time(make(size));
        expect(cur / prev, `${name} at ${size}`).toBeLessThan(MAX_STEP);
        prev = cur;
      }
    }
  });
});
