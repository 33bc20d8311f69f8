/// <reference lib="dom" />
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verpAddress } from '../../src/core/tokens.js';
import { ensureTenant } from '../../src/db/tenants.js';
import { serve, type Running } from '../../src/server/serve.js';
import { createUser } from '../../src/web/accounts.js';
import { repoRoot } from '../support/cli.js';
import { expectAccessible } from './support/axe.js';
import { dialect, testApp, TEST_SECRET, type TestApp } from '../support/app.js';
import { insertMessage } from '../support/messages.js';
import { freePort, session } from '../smtp/client.js';
import { postfixDsn } from '../smtp/dsn.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`test/web/dashboard: skipped, ${CHROMIUM} is absent (apt-get install chromium; CI installs it)`);
const PASSWORD = 'a long dashboard password';
const XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">';

describe.skipIf(!haveChromium)(`dashboard in Chromium on ${dialect}`, () => {
  let t: TestApp;
  let running: Running;
  let browser: Browser;
  let page: Page;
  let base: string;
  let smtpPort: number;
  let mine: { id: string; verp: string; recipient: string };
  let theirs: string;
  const problems: string[] = [];
  /** Set while a test provokes an error answer on purpose (a wrong password, another tenant's page). */
  let provoking = false;

  beforeAll(async () => {
    smtpPort = await freePort();
    const httpPort = await freePort();
    t = await testApp({ MAILTRAIL_HTTP_HOST: '127.0.0.1', MAILTRAIL_HTTP_PORT: String(httpPort), MAILTRAIL_SMTP_HOST: '127.0.0.1', MAILTRAIL_SMTP_PORT: String(smtpPort) });
    running = await serve(t.app, ['http', 'smtp']);
    base = `http://127.0.0.1:${httpPort}/ui`;
    const db = t.app.database.db;
    const acme = await ensureTenant(db, 'acme');
    const other = await ensureTenant(db, 'other');
    await createUser(db, { email: 'ann@acme.test', tenantId: acme.id, password: PASSWORD, mustChange: false });
    const recipient = 'gone@remote.test';
    const id = await insertMessage(db, acme.id, recipient);
    mine = { id, recipient, verp: verpAddress(TEST_SECRET, id, 'bounces.test') };
    theirs = await insertMessage(db, other.id, 'secret@other.test');
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (provoking) return;
      if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`${m.text()} (${m.location().url})`);
    });
    page.on('response', (r) => {
      if (provoking) return;
      if (r.status() === 404) problems.push(`404 ${r.url()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await running?.stop();
    await t?.close();
  });

  it('sends an anonymous visitor to the login page, which is accessible', async () => {
    await page.goto(`${base}/`);
    expect(new URL(page.url()).pathname).toBe('/ui/login');
    await expectAccessible(page);
  });

  it('refuses a wrong password', async () => {
    provoking = true;
    await page.fill('#email', 'ann@acme.test');
    await page.fill('#password', 'not the password');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('.error')).toMatch(/wrong password/);
    provoking = false;
  });

  it('logs in, sets a hardened cookie, and shows the overview', async () => {
    await page.fill('#email', 'ann@acme.test');
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('h1:text("Overview")');
    const cookie = (await page.context().cookies()).find((c) => c.name === 'mt_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/ui' });
    expect(await page.textContent('[data-testid=count-sent]')).toBe('1');
    expect(await page.textContent('[data-testid=count-bounced]')).toBe('0');
    await expectAccessible(page);
  });

  it('updates the overview live when a bounce arrives over SMTP', async () => {
    // Marks this document: a reload would lose it, so the change must come through the stream.
    await page.evaluate(() => ((window as unknown as { __same: boolean }).__same = true));
    const c = await session(smtpPort);
    const replies = await c.send('', [mine.verp], postfixDsn({ to: mine.verp, recipient: mine.recipient, diagnostic: `smtp; 550 5.1.1 ${XSS} user unknown` }));
    expect(replies.at(-1)).toMatch(/^250/);
    await page.waitForFunction(() => document.querySelector('[data-testid=count-bounced]')?.textContent === '1', undefined, { timeout: 20_000 });
    expect(await page.textContent('[data-testid=count-sent]')).toBe('0');
    expect(await page.evaluate(() => (window as unknown as { __same?: boolean }).__same)).toBe(true);
    // The chart is drawn by uPlot from the data beside its table.
    await page.waitForSelector('.chart .uplot', { timeout: 5_000 }).catch(async () => {
      const why = await page.evaluate(() => document.querySelector('.chart')?.outerHTML.slice(0, 200));
      throw new Error(`${why} no chart; page problems: ${problems.join('; ')}`);
    });
    mkdirSync(resolve(repoRoot, 'docs/img'), { recursive: true });
    await page.screenshot({ path: resolve(repoRoot, 'docs/img/dashboard-overview.png'), fullPage: true });
  });

  it('finds the message, shows its timeline with the diagnostic as text, and is accessible', async () => {
    await page.goto(`${base}/messages?recipient=${encodeURIComponent(mine.recipient)}`);
    await expectAccessible(page);
    await page.click(`a[href="/ui/messages/${mine.id}"]`);
    await page.waitForSelector('[data-testid=status]:text("bounced")');
    const diagnostic = await page.textContent('[data-testid=diagnostic]');
    expect(diagnostic).toContain('<script>window.__xss = 1</script>');
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('.diagnostic script, .diagnostic img').count()).toBe(0);
    await expectAccessible(page);
    await page.screenshot({ path: resolve(repoRoot, 'docs/img/dashboard-message.png'), fullPage: true });
  });

  it('shows the raw report, escaped, and offers it for download', async () => {
    await page.click('a:text("Raw report")');
    await page.waitForSelector('[data-testid=raw]');
    expect(await page.textContent('[data-testid=raw]')).toContain(XSS);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    await expectAccessible(page);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a:text("Download the raw report")')]);
    expect(download.suggestedFilename()).toMatch(/^report-\d+\.eml$/);
  });

  it('lists the bounced recipient as suppressed, linked to the event that caused it', async () => {
    await page.goto(`${base}/suppressions`);
    const row = page.locator(`tr[data-address="${mine.recipient}"]`);
    await row.locator('a:text("bounce: bounced event")').click();
    await page.waitForSelector('[data-testid=status]:text("bounced")');
    expect(new URL(page.url()).pathname).toBe(`/ui/messages/${mine.id}`);
    expect(await page.locator(`li${new URL(page.url()).hash}.ev-bounced`).count()).toBe(1);
  });

  it('reprocesses a report an older parser misread', async () => {
    const db = t.app.database.db;
    const stored = await db.selectFrom('raw_reports').select('id').orderBy('id', 'desc').executeTakeFirstOrThrow();
    // What an older parser would have left: nothing recognised.
    await db.updateTable('raw_reports').set({ kind: 'unknown', parse: JSON.stringify({ kind: 'unknown', recipients: [] }) }).where('id', '=', stored.id).execute();
    await page.goto(`${base}/reports`);
    await expectAccessible(page);
    await page.click(`a[href="/ui/reports/${stored.id}"]`);
    expect(await page.textContent('[data-testid=report-kind]')).toBe('unknown');
    await page.click('button:text("Reprocess with the current parser")');
    await page.waitForSelector('.notice:text("reads it differently")');
    expect(await page.textContent('[data-testid=report-kind]')).toBe('bounce');
    expect(await page.textContent('[data-testid=raw]')).toContain(XSS);
    await expectAccessible(page);
    const audit = await db.selectFrom('audit_log').select(['action', 'target']).where('action', '=', 'report.reprocess').execute();
    expect(audit).toEqual([{ action: 'report.reprocess', target: String(stored.id) }]);
  });

  it("answers 404 for another tenant's message", async () => {
    provoking = true;
    const r = await page.goto(`${base}/messages/${theirs}`);
    expect(r?.status()).toBe(404);
    expect(await page.textContent('body')).not.toContain('secret@other.test');
    await expectAccessible(page);
    provoking = false;
  });

  it('ran without a CSP violation or script error', () => {
    expect(problems).toEqual([]);
  });

  it('logs out: the session ends on the server', async () => {
    await page.goto(`${base}/`);
    const cookieBefore = (await page.context().cookies()).find((c) => c.name === 'mt_session')!;
    await page.click('button:text("Log out")');
    await page.waitForSelector('h1:text("Log in")');
    // Replaying the old cookie gets the login page: the server forgot the session.
    const r = await fetch(`${base}/`, { headers: { cookie: `mt_session=${cookieBefore.value}` }, redirect: 'manual' });
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toMatch(/^\/ui\/login/);
  });
});
