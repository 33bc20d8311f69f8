/// <reference lib="dom" />
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verpAddress } from '../../src/core/tokens.js';
import { appendEvents, type NewEvent } from '../../src/db/events.js';
import { ensureTenant } from '../../src/db/tenants.js';
import type { Tenant } from '../../src/db/types.js';
import { serve, type Running } from '../../src/server/serve.js';
import { processHits } from '../../src/tracking/hits-job.js';
import { openUrl } from '../../src/tracking/urls.js';
import { createUser } from '../../src/web/accounts.js';
import { expectAccessible } from './support/axe.js';
import { dialect, testApp, TEST_SECRET, type TestApp } from '../support/app.js';
import { insertMessage } from '../support/messages.js';
import { freePort, session } from '../smtp/client.js';
import { postfixDsn } from '../smtp/dsn.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`test/web/overview-and-messages: skipped, ${CHROMIUM} is absent (apt-get install chromium; CI installs it)`);
const PASSWORD = 'a long dashboard password';
const HOUR = 3_600_000;

describe.skipIf(!haveChromium)(`dashboard overview filters, attention, engagement and SMS pages in Chromium on ${dialect}`, () => {
  let t: TestApp;
  let running: Running;
  let browser: Browser;
  let page: Page;
  let base: string;
  let origin: string;
  let smtpPort: number;
  let acme: Tenant;
  const ids = { promo: '', plain: '', sms: '', hostile: '' };
  const problems: string[] = [];

  const setMessage = (id: string, values: Record<string, unknown>) => t.app.database.db.updateTable('messages').set(values).where('id', '=', id).execute();
  const append = (id: string, events: NewEvent[]) => t.app.database.db.transaction().execute((trx) => appendEvents(trx, id, events));

  beforeAll(async () => {
    smtpPort = await freePort();
    const httpPort = await freePort();
    t = await testApp({ MAILTRAIL_HTTP_HOST: '127.0.0.1', MAILTRAIL_HTTP_PORT: String(httpPort), MAILTRAIL_SMTP_HOST: '127.0.0.1', MAILTRAIL_SMTP_PORT: String(smtpPort) });
    // No worker role: the send queue below must stay stuck; the test runs the hits job itself.
    running = await serve(t.app, ['http', 'smtp']);
    origin = `http://127.0.0.1:${httpPort}`;
    base = `${origin}/ui`;
    const db = t.app.database.db;
    acme = await ensureTenant(db, 'acme');
    const other = await ensureTenant(db, 'other');
    await createUser(db, { email: 'ann@acme.test', tenantId: acme.id, password: PASSWORD, mustChange: false });
    const delivered = (at: Date): NewEvent[] => [
      { type: 'sent', occurredAt: new Date(at.getTime() - 60_000), source: 'send' },
      { type: 'delivered', occurredAt: at, source: 'send' },
    ];
    const hourAgo = new Date(Date.now() - HOUR);
    ids.promo = await insertMessage(db, acme.id, 'reader@remote.test', 'queued');
    await setMessage(ids.promo, { from_address: 'news@Acme.test', tags: ['promo'], subject: 'Spring sale' });
    await append(ids.promo, delivered(hourAgo));
    ids.plain = await insertMessage(db, acme.id, 'other-reader@remote.test', 'queued');
    await setMessage(ids.plain, { from_address: 'info@brand.test', tags: ['receipt'] });
    await append(ids.plain, delivered(hourAgo));
    ids.sms = await insertMessage(db, acme.id, '+33612345678', 'queued');
    await setMessage(ids.sms, { channel: 'sms', recipient_key: '+33612345678', recipient_domain: null, from_address: 'ACME', content: JSON.stringify({ text: 'Your code is 1234' }) });
    await append(ids.sms, [
      { type: 'sent', occurredAt: hourAgo, source: 'sms', data: { smsc_message_id: 'abc123', parts: 1 } },
      { type: 'delivered', occurredAt: new Date(hourAgo.getTime() + 5_000), source: 'sms', data: { smsc_status: 'DELIVRD' } },
    ]);
    // The bounce target of the hostile report.
    ids.hostile = await insertMessage(db, acme.id, 'victim@remote.test');
    // A message due for an hour that no worker took: a stuck queue. And one of another tenant, not ours.
    const stuck = await insertMessage(db, acme.id, 'waiting@remote.test', 'queued');
    await setMessage(stuck, { next_attempt_at: new Date(Date.now() - HOUR) });
    const theirs = await insertMessage(db, other.id, 'waiting@other.test', 'queued');
    await setMessage(theirs, { next_attempt_at: new Date(Date.now() - HOUR) });
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => (m.type() === 'error' || /Content Security Policy/i.test(m.text())) && problems.push(`${m.text()} (${m.location().url})`));
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    await page.goto(`${base}/login`);
    await page.fill('#email', 'ann@acme.test');
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('h1:text("Overview")');
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await running?.stop();
    await t?.close();
  });

  const total = () => page.textContent('[data-testid=total]');

  it('filters the overview by channel, tag and sending domain', async () => {
    expect(await total()).toBe('5');
    await page.selectOption('#channel', 'sms');
    await page.click('button:text("Show")');
    await page.waitForURL(/channel=sms/);
    expect(await total()).toBe('1');
    expect(await page.textContent('[data-testid=count-delivered]')).toBe('1');
    await page.selectOption('#channel', 'all');
    await page.fill('#tag', 'promo');
    await page.click('button:text("Show")');
    await page.waitForURL(/tag=promo/);
    expect(await total()).toBe('1');
    await page.fill('#tag', '');
    // The domain matches the From address whatever its case.
    await page.fill('#domain', 'ACME.test');
    await page.click('button:text("Show")');
    await page.waitForURL(/domain=/);
    expect(await total()).toBe('1');
    expect(await page.textContent('main p.muted')).toContain('sent from acme.test');
    // The live panel reloads with the same filters.
    expect(await page.getAttribute('#overview-panel', 'hx-get')).toBe('/ui/overview/panel?period=7d&channel=all&domain=acme.test');
    await expectAccessible(page);
    await page.fill('#domain', 'not a domain%');
    await page.click('button:text("Show")');
    await page.waitForSelector('.error:text("not a domain name")');
    expect(await total()).toBe('5');
  });

  it('lists a stuck send queue and the webhooks next to the rates, for this tenant only', async () => {
    await page.goto(`${base}/`);
    const items = await page.locator('.attention li').allTextContents();
    expect(items).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^OK: Hard-bounce rate/),
        expect.stringMatching(/^OK: Complaint rate .* \(Gmail\/Yahoo line: 0\.3%\)/),
        'Warning: Send queue stuck: 1 message(s) due for more than 10 minutes; is a send worker running?',
        'OK: Every webhook endpoint is delivering.',
      ]),
    );
  });

  it('shows each open with its machine or human label and the signals behind it, live', async () => {
    await page.goto(`${base}/messages/${ids.promo}`);
    await page.waitForSelector('[data-testid=event-count]:text("2")');
    await page.evaluate(() => ((window as unknown as { __same: boolean }).__same = true));
    const pixel = new URL(openUrl(t.app, ids.promo)).pathname;
    // A link scanner's HEAD, then a person's mail client an hour after delivery.
    expect((await fetch(`${origin}${pixel}`, { method: 'HEAD', headers: { 'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0' } })).status).toBe(200);
    expect((await fetch(`${origin}${pixel}`, { headers: { 'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Thunderbird/128.0' } })).status).toBe(200);
    // The worker's own job, run here so that nothing else in this test's database moves.
    let processed = 0;
    await expect.poll(async () => (processed += await processHits(t.app)), { timeout: 15_000 }).toBe(2);
    await page.waitForSelector('[data-testid=event-count]:text("4")', { timeout: 20_000 }).catch(async (err) => {
      const n = await t.app.database.db.selectFrom('events').select('type').where('message_id', '=', ids.promo).execute();
      throw new Error(`${err}; events stored: ${n.map((e) => e.type)}; page: ${await page.textContent('#timeline h2')}; problems: ${problems}; html: ${(await page.innerHTML('main')).slice(-1500)}`);
    });
    expect(await page.evaluate(() => (window as unknown as { __same?: boolean }).__same)).toBe(true);
    const opens = page.locator('li.ev-opened');
    expect(await opens.count()).toBe(2);
    const labels = (await opens.locator('[data-testid=engagement]').allTextContents()).sort();
    expect(labels).toEqual(['human (human)', 'machine (scanner)']);
    const signals = await opens.locator('[data-testid=signals]').allTextContents();
    expect(signals.find((s) => s.includes('head-request'))).toMatch(/since-delivery:\d+\.\ds/);
    expect(signals.filter((s) => !s.includes('head-request'))).toEqual([expect.stringMatching(/^ua:mail-client, since-delivery:3\d{3}\.\ds$/)]);
    // The facts above the timeline follow too: a human open makes the message opened.
    expect(await page.textContent('.facts')).toContain('1 human, 1 machine');
    expect(await page.textContent('[data-testid=status]')).toBe('opened');
    await expectAccessible(page);
  });

  it("shows an SMS message's page: the number, the sender id, the receipt", async () => {
    await page.goto(`${base}/messages?recipient=${encodeURIComponent('+33612345678')}`);
    await expectAccessible(page);
    await page.click(`a[href="/ui/messages/${ids.sms}"]`);
    await page.waitForSelector('[data-testid=status]:text("delivered")');
    expect(await page.textContent('[data-testid=channel]')).toBe('SMS');
    expect(await page.textContent('h1')).toBe('Message to +33612345678');
    const facts = await page.textContent('dl.facts');
    expect(facts).toContain('+33612345678 (E.164 number)');
    expect(facts).toContain('ACME');
    expect(await page.locator('li.ev-delivered').textContent()).toContain('DELIVRD');
    expect(await page.locator('li.ev-sent').textContent()).toContain('source: sms');
    await expectAccessible(page);
  });

  it('renders a hostile bounce (script tags, a 4,000-character line, unknown and broken charsets) as text', async () => {
    const to = verpAddress(TEST_SECRET, ids.hostile, 'bounces.test');
    const long = 'x'.repeat(4000);
    const script = '<script>window.__xss = 1</script><svg onload="window.__xss = 2">';
    const dsn = postfixDsn({ to, recipient: 'victim@remote.test', diagnostic: `smtp; 550 5.1.1 ${script} ${long} user unknown` })
      .replace('charset=us-ascii', 'charset=x-no-such-charset')
      .replace('Subject: hello', `Subject: =?x-bogus?B?${Buffer.from(script).toString('base64')}?= ${script}`);
    // Bytes that are not UTF-8 (Latin-1 letters, a lone continuation byte, 0xff) in the human-readable part.
    const bytes = Buffer.from(dsn.replace('This is the mail system', 'Caf\u00e9 d\u00e9j\u00e0 \u0080\u00ff This is the mail system'), 'latin1');
    const c = await session(smtpPort);
    const replies = await c.send('', [to], bytes);
    expect(replies.at(-1)).toMatch(/^250/);
    await page.goto(`${base}/messages/${ids.hostile}`);
    await page.waitForSelector('[data-testid=status]:text("bounced")', { timeout: 20_000 }).catch(async () => {
      await page.reload();
      await page.waitForSelector('[data-testid=status]:text("bounced")', { timeout: 20_000 });
    });
    const diagnostic = (await page.textContent('[data-testid=diagnostic]'))!;
    expect(diagnostic).toContain(script);
    // Stored up to the parser's cap on a diagnostic, wrapped on the page.
    expect(diagnostic).toContain('x'.repeat(500));
    expect(await page.locator('.diagnostic script, .diagnostic svg').count()).toBe(0);
    // The long line wraps: the page is no wider than the window.
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await expectAccessible(page);
    await page.click('a:text("Raw report")');
    await page.waitForSelector('[data-testid=raw]');
    const shown = (await page.textContent('[data-testid=raw]'))!;
    expect(shown).toContain('charset=x-no-such-charset');
    expect(shown).toContain(script);
    expect(await page.locator('[data-testid=raw] script, [data-testid=raw] svg, [data-testid=parse] script').count()).toBe(0);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await expectAccessible(page);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  });

  it('ran without a CSP violation or script error', () => {
    expect(problems).toEqual([]);
  });
});
