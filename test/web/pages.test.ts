/// <reference lib="dom" />
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/core/ids.js';
import { ensureTenant } from '../../src/db/tenants.js';
import type { Tenant } from '../../src/db/types.js';
import { serve, type Running } from '../../src/server/serve.js';
import { createUser } from '../../src/web/accounts.js';
import { repoRoot } from '../support/cli.js';
import { expectAccessible } from './support/axe.js';
import { dialect, testApp, type TestApp } from '../support/app.js';
import { insertMessage } from '../support/messages.js';
import { freePort } from '../smtp/client.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`test/web/pages: skipped, ${CHROMIUM} is absent (apt-get install chromium; CI installs it)`);
const PASSWORD = 'a long dashboard password';
const XSS = '<img src=x onerror="window.__xss = 1">';

describe.skipIf(!haveChromium)(`dashboard pages and roles in Chromium on ${dialect}`, () => {
  let t: TestApp;
  let running: Running;
  let browser: Browser;
  let base: string;
  let acme: Tenant;
  let other: Tenant;
  let endpoint: string;
  let otherEndpoint: string;
  let message: string;
  const problems: string[] = [];
  let provoking = false;

  beforeAll(async () => {
    const httpPort = await freePort();
    t = await testApp({ MAILTRAIL_HTTP_HOST: '127.0.0.1', MAILTRAIL_HTTP_PORT: String(httpPort) });
    running = await serve(t.app, ['http']);
    base = `http://127.0.0.1:${httpPort}/ui`;
    const db = t.app.database.db;
    acme = await ensureTenant(db, 'acme');
    other = await ensureTenant(db, 'other');
    await createUser(db, { email: 'ann@acme.test', tenantId: acme.id, password: PASSWORD, mustChange: false });
    await createUser(db, { email: 'op@mailtrail.test', tenantId: null, password: PASSWORD, mustChange: false });
    message = await insertMessage(db, acme.id, 'reader@remote.test');
    // A webhook endpoint with one delivery that exhausted its retries, and one of another tenant.
    const addEndpoint = async (tenant: Tenant, url: string) => {
      const id = uuidv7();
      await db.insertInto('webhook_endpoints').values({ id, tenant_id: tenant.id, url, secret: 'whsec_b2xkIHNlY3JldCBvZiB0aGUgdGVzdA==', updated_at: new Date(), consecutive_failures: 9, disabled_reason: null }).execute();
      return id;
    };
    endpoint = await addEndpoint(acme, 'https://hooks.acme.test/in');
    otherEndpoint = await addEndpoint(other, 'https://hooks.other.test/secret-path');
    await db
      .insertInto('webhook_outbox')
      .values({ endpoint_id: endpoint, tenant_id: acme.id, event_id: uuidv7(), message_id: message, message_seq: 1, tenant_seq: 1, event_type: 'delivered', payload: '{}', state: 'dead', attempts: 12, next_attempt_at: new Date(), last_status: 503, last_error: 'http 503', dead_at: new Date() })
      .execute();
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await running?.stop();
    await t?.close();
  });

  async function login(email: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on('console', (m) => !provoking && (m.type() === 'error' || /Content Security Policy/i.test(m.text())) && problems.push(`${m.text()} (${m.location().url})`));
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    await page.goto(`${base}/login`);
    await page.fill('#email', email);
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('h1:text("Overview")');
    return { context, page };
  }

  let ann: { context: BrowserContext; page: Page };

  it('adds a suppression with a note (shown as text), then removes it after a confirmation', async () => {
    ann = await login('ann@acme.test');
    const { page } = ann;
    await page.click('nav a:text("Suppressions")');
    await page.waitForSelector('h1:text("Suppressions")');
    await expectAccessible(page);
    await page.fill('#s-address', 'Blocked@Example.TEST');
    await page.fill('#s-note', `asked by phone ${XSS}`);
    await page.click('button:text("Add")');
    await page.waitForSelector('.notice:text("Added")');
    const row = page.locator('tr[data-address="blocked@example.test"]');
    expect(await row.textContent()).toContain(XSS);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await row.textContent()).toContain('added by hand');
    await expectAccessible(page);
    await row.locator('a:text("Remove")').click();
    await page.waitForSelector('h1:text("Remove blocked@example.test")');
    await expectAccessible(page);
    // Nothing is removed before the confirmation.
    expect(await t.app.database.db.selectFrom('suppressions').select('id').where('tenant_id', '=', acme.id).execute()).toHaveLength(1);
    await page.click('button:text("Yes, remove it")');
    await page.waitForSelector('.notice:text("Removed")');
    expect(await page.locator('tr[data-address="blocked@example.test"]').count()).toBe(0);
  });

  it('refuses an address the API refuses, with its reason', async () => {
    const { page } = ann;
    provoking = true;
    await page.fill('#s-address', 'not an address');
    await page.click('button:text("Add")');
    await page.waitForSelector('.error');
    expect(await page.textContent('.error')).toMatch(/address/);
    provoking = false;
  });

  it('shows the webhook endpoint, its failures and dead letter, replays it and rotates the secret', async () => {
    const { page } = ann;
    await page.goto(`${base}/webhooks`);
    expect(await page.textContent(`[data-testid="dead-${endpoint}"]`)).toBe('1');
    expect(await page.textContent('body')).not.toContain('hooks.other.test');
    await expectAccessible(page);
    await page.click('a:text("https://hooks.acme.test/in")');
    await page.waitForSelector('[data-testid=dead]:text("1")');
    expect(await page.textContent('table.list')).toContain('http 503');
    await expectAccessible(page);
    await page.click('button:text("Replay every dead letter")');
    await page.waitForSelector('.notice:text("1 dead letter(s) queued again")');
    expect(await page.textContent('[data-testid=dead]')).toBe('0');
    expect(await page.textContent('[data-testid=pending]')).toBe('1');
    const before = await t.app.database.db.selectFrom('webhook_endpoints').select('secret').where('id', '=', endpoint).executeTakeFirstOrThrow();
    await page.click('button:text("Rotate the secret")');
    // A confirmation first: the secret is the same until it is given.
    await page.waitForSelector('h1:text("Rotate the signing secret?")');
    expect(await page.textContent('[data-testid=confirm-text]')).toMatch(/for 24 hour/);
    await expectAccessible(page);
    expect((await t.app.database.db.selectFrom('webhook_endpoints').select('secret').where('id', '=', endpoint).executeTakeFirstOrThrow()).secret).toBe(before.secret);
    await page.click('button:text("Yes, rotate it")');
    const shown = await page.textContent('[data-testid=secret]');
    const after = await t.app.database.db.selectFrom('webhook_endpoints').select(['secret', 'previous_secret']).where('id', '=', endpoint).executeTakeFirstOrThrow();
    expect(shown).toBe(after.secret);
    expect(after.previous_secret).toBe(before.secret);
    await expectAccessible(page);
  });

  it('disables an endpoint only after a confirmation, and the overview lists it as needing attention', async () => {
    const { page } = ann;
    await page.goto(`${base}/webhooks/${endpoint}`);
    await page.click('button:text("Disable")');
    await page.waitForSelector('h1:text("Disable this webhook endpoint?")');
    await expectAccessible(page);
    expect(await page.textContent('body')).not.toContain('disabled through');
    await page.click('button:text("Yes, disable it")');
    await page.waitForSelector('[data-testid=state]:text-matches("^disabled")');
    await page.goto(`${base}/`);
    expect(await page.textContent('.attention')).toContain('Webhooks: 1 endpoint(s) disabled, 0 dead letter(s) to replay.');
    await page.click('.attention a:text("See them")');
    await page.waitForSelector('h1:text("Webhooks")');
    await page.click('a:text("https://hooks.acme.test/in")');
    // Enabling needs no confirmation.
    await page.click('button:text("Enable")');
    await page.waitForSelector('[data-testid=state]:text("enabled")');
  });

  it('creates an API key shown once, then revokes it', async () => {
    const { page } = ann;
    await page.goto(`${base}/api-keys`);
    await page.fill('#k-label', 'ci');
    await page.click('button:text("Create key")');
    const key = (await page.textContent('[data-testid=new-key]'))!;
    expect(key).toMatch(/^mt_/);
    await expectAccessible(page);
    const ok = await fetch(`${base.replace('/ui', '')}/v1/suppressions`, { headers: { authorization: `Bearer ${key}` } });
    expect(ok.status).toBe(200);
    await page.goto(`${base}/api-keys`);
    expect(await page.textContent('body')).not.toContain(key);
    await page.click('button:has-text("Revoke")');
    await page.waitForSelector('h1:text-matches("^Revoke the API key")');
    await expectAccessible(page);
    // Until confirmed, the key still works; Cancel leaves it so.
    expect((await fetch(`${base.replace('/ui', '')}/v1/suppressions`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    await page.click('a:text("Cancel")');
    await page.waitForSelector('h1:text("API keys")');
    expect(await page.locator('td:text-matches("^revoked")').count()).toBe(0);
    await page.click('button:has-text("Revoke")');
    await page.click('button:text("Yes, revoke it")');
    await page.waitForSelector('td:text-matches("^revoked")');
    const refused = await fetch(`${base.replace('/ui', '')}/v1/suppressions`, { headers: { authorization: `Bearer ${key}` } });
    expect(refused.status).toBe(401);
  });

  it('lists reports and the audit log of every change, accessibly', async () => {
    const { page } = ann;
    await page.goto(`${base}/reports`);
    await page.waitForSelector('h1:text("Inbound reports")');
    await expectAccessible(page);
    await page.goto(`${base}/audit`);
    const actions = await page.locator('[data-testid=audit-action]').allTextContents();
    expect(actions).toEqual(expect.arrayContaining(['login', 'suppression.add', 'suppression.remove', 'webhook.replay', 'webhook.rotate-secret', 'api-key.create', 'api-key.revoke']));
    await expectAccessible(page);
  });

  it('shows the proof bundle of a message verified', async () => {
    const { page } = ann;
    await page.goto(`${base}/messages/${message}/proof/verify`);
    expect(await page.textContent('[data-testid=verdict]')).toMatch(/^Verified/);
    await expectAccessible(page);
  });

  it("keeps a tenant user to its own tenant, in the browser and by direct URL", async () => {
    const { page } = ann;
    provoking = true;
    expect((await page.goto(`${base}/system`))?.status()).toBe(404);
    expect((await page.goto(`${base}/webhooks/${otherEndpoint}`))?.status()).toBe(404);
    expect(await page.textContent('body')).not.toContain('secret-path');
    // Asking for another tenant's list gives one's own.
    await page.goto(`${base}/suppressions?tenant=${other.id}`);
    expect(await page.textContent('h1')).toBe('Suppressions');
    expect(await page.locator('nav a:text("System")').count()).toBe(0);
    // A form posted with another tenant's id still acts on one's own tenant.
    const csrf = await page.getAttribute('input[name=_csrf]', 'value');
    const r = await page.request.post(`${base}/suppressions`, { form: { _csrf: csrf!, tenant: other.id, address: 'planted@example.test' } });
    expect(r.status()).toBeLessThan(400);
    const rows = await t.app.database.db.selectFrom('suppressions').select('tenant_id').where('address', '=', 'planted@example.test').execute();
    expect(rows).toEqual([{ tenant_id: acme.id }]);
    // Another tenant's endpoint cannot be replayed either.
    const replay = await page.request.post(`${base}/webhooks/${otherEndpoint}/replay`, { form: { _csrf: csrf! } });
    expect(replay.status()).toBe(404);
    // And no POST goes through without the session's CSRF token.
    const forged = await page.request.post(`${base}/suppressions`, { form: { address: 'forged@example.test' } });
    expect(forged.status()).toBe(403);
    provoking = false;
    await ann.context.close();
  });

  it('gives an operator every tenant and the system page', async () => {
    const { page, context } = await login('op@mailtrail.test');
    // The operator's overview: every tenant, with the uncorrelated reports in the attention list.
    expect(await page.textContent('.attention')).toContain('Every inbound report matched a message.');
    await expectAccessible(page);
    await page.click('nav a:text("System")');
    await page.waitForSelector('[data-testid=database]:text("up")');
    const body = await page.textContent('body');
    expect(body).toContain('acme');
    expect(body).toContain('other');
    await expectAccessible(page);
    await page.screenshot({ path: resolve(repoRoot, 'docs/img/dashboard-system.png'), fullPage: true });
    await page.goto(`${base}/webhooks?tenant=${other.id}`);
    expect(await page.textContent('body')).toContain('hooks.other.test');
    await expectAccessible(page);
    await page.goto(`${base}/webhooks/${endpoint}`);
    expect(await page.textContent('[data-testid=pending]')).toBe('1');
    await context.close();
  });

  it('makes a user with a one-time password change it first, on an accessible page', async () => {
    await createUser(t.app.database.db, { email: 'new@acme.test', tenantId: acme.id, password: PASSWORD, mustChange: true });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await page.fill('#email', 'new@acme.test');
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('h1:text("Change your password")');
    await expectAccessible(page);
    // Every other page sends it back here until the password is changed.
    await page.goto(`${base}/messages`);
    expect(new URL(page.url()).pathname).toBe('/ui/password');
    await context.close();
  });

  it('ran without a CSP violation or script error', () => {
    expect(problems).toEqual([]);
  });
});
