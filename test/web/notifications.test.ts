/// <reference lib="dom" />
import { existsSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTenant } from '../../src/db/tenants.js';
import type { Tenant } from '../../src/db/types.js';
import { createNotification } from '../../src/flows/create.js';
import type { NotificationInput } from '../../src/flows/schema.js';
import { createUser } from '../../src/web/accounts.js';
import { expectAccessible } from './support/axe.js';
import { CHROMIUM, PASSWORD, startDashboard, type Dashboard } from './support/dashboard.js';
import { dialect, type TestApp } from '../support/app.js';

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`test/web/notifications: skipped, ${CHROMIUM} is absent (apt-get install chromium; CI installs it)`);
const XSS = '<img src=x onerror="window.__xss = 1">';
const content = {
  email: { from: 'Acme <news@acme.test>', subject: 'Your invoice', text: 'It is ready.' },
  sms: { from: 'Acme', text: 'Your invoice is ready.' },
};
const onBounce: NotificationInput['flow'] = { mode: 'cross', steps: [{ channel: 'email', next: { when: 'failed', bounce: 'hard' } }, { channel: 'sms' }] };

describe.skipIf(!haveChromium)(`dashboard notification pages in Chromium on ${dialect}`, () => {
  let d: Dashboard;
  let t: TestApp;
  let base: string;
  let acme: Tenant;
  let other: Tenant;
  let mine: string;
  let theirs: string;

  const notify = async (tenant: Tenant, email: string, clientKey: string) => {
    const out = await createNotification(t.app, tenant.id, { recipient: { email, phone: '+33612345678' }, content, flow: onBounce, client_key: clientKey });
    if (!out.ok) throw new Error(JSON.stringify(out));
    return out.id;
  };

  beforeAll(async () => {
    d = await startDashboard();
    ({ t, base } = d);
    const db = t.app.database.db;
    acme = await ensureTenant(db, 'acme');
    other = await ensureTenant(db, 'other');
    await createUser(db, { email: 'ann@acme.test', tenantId: acme.id, password: PASSWORD, mustChange: false });
    await createUser(db, { email: 'op@mailtrail.test', tenantId: null, password: PASSWORD, mustChange: false });
    mine = await notify(acme, 'pat@acme-customer.test', `order ${XSS}`);
    theirs = await notify(other, 'sam@other-customer.test', 'other-order');
  }, 180_000);
  afterAll(async () => d?.close());
  const login = (email: string) => d.login(email);

  let ann: { context: BrowserContext; page: Page };
  it("lists only the tenant user's own notifications, with their state, and filters by state", async () => {
    ann = await login('ann@acme.test');
    const { page } = ann;
    await page.click('nav a:text("Notifications")');
    await page.waitForSelector('h1:text("Notifications")');
    await expectAccessible(page);
    expect(await page.locator(`tr[data-id="${mine}"] [data-testid=state]`).textContent()).toBe('in_progress');
    expect(await page.locator(`tr[data-id="${theirs}"]`).count()).toBe(0);
    expect(await page.textContent('main')).not.toContain('sam@other-customer.test');
    await page.selectOption('#n-state', 'reached');
    await page.click('button:text("Filter")');
    await page.waitForSelector('td:text("No notification is reached.")');
    expect(await page.locator(`tr[data-id="${mine}"]`).count()).toBe(0);
  });

  it("shows a notification's steps with channel, message link and status, and its timeline; escapes what the sender gave", async () => {
    const { page } = ann;
    await page.goto(`${base}/notifications/${mine}`);
    await page.waitForSelector('h1:text("Notification")');
    await expectAccessible(page);
    expect(await page.textContent('main')).toContain(`order ${XSS}`);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    const step = await t.app.database.db.selectFrom('notification_steps').select(['message_id']).where('notification_id', '=', mine).where('step', '=', 0).executeTakeFirstOrThrow();
    const first = page.locator('tr[data-step="0"]');
    expect(await first.textContent()).toContain('email');
    expect(await first.textContent()).toContain('queued');
    expect(await page.locator('tr[data-step="1"]').textContent()).toContain('sms');
    expect(await page.locator('tr[data-step="1"]').textContent()).toContain('not started');
    expect(await page.locator('.timeline li').allTextContents()).toEqual([expect.stringContaining('created'), expect.stringContaining('step 1 started on email'), expect.stringContaining('state pending → in_progress')]);
    await first.locator('a').click();
    await page.waitForURL(`${base}/messages/${step.message_id}`);
    expect(await page.textContent('main')).toContain('pat@acme-customer.test');
  });

  it('cancels a notification only after a confirmation; it is then stopped and offers no cancel', async () => {
    const { page } = ann;
    await page.goto(`${base}/notifications/${mine}`);
    await page.click('button:text("Cancel the notification")');
    await page.waitForSelector('h1:text("Cancel this notification?")');
    await expectAccessible(page);
    const row = () => t.app.database.db.selectFrom('notifications').select(['state', 'cancelled_at']).where('id', '=', mine).executeTakeFirstOrThrow();
    expect((await row()).cancelled_at).toBeNull();
    await page.click('button:text("Yes, cancel it")');
    await page.waitForSelector('.notice:text("Cancelled")');
    expect(await page.textContent('[data-testid=state]')).toContain('stopped');
    expect(await page.locator('button:text("Cancel the notification")').count()).toBe(0);
    expect(await row()).toMatchObject({ state: 'stopped' });
    expect((await row()).cancelled_at).not.toBeNull();
    const audit = await t.app.database.db.selectFrom('audit_log').select(['action', 'target']).where('action', '=', 'notification.cancel').execute();
    expect(audit).toEqual([{ action: 'notification.cancel', target: mine }]);
  });

  it("answers 404 to a tenant user for another tenant's notification, and to its cancel", async () => {
    const { page } = ann;
    d.provoking = true;
    expect((await page.goto(`${base}/notifications/${theirs}`))?.status()).toBe(404);
    d.provoking = false;
    await page.goto(`${base}/notifications`);
    const csrf = await page.getAttribute('input[name=_csrf]', 'value');
    const r = await page.request.post(`${base}/notifications/${theirs}/cancel`, { form: { _csrf: csrf!, confirm: 'yes' } });
    expect(r.status()).toBe(404);
    expect((await t.app.database.db.selectFrom('notifications').select('state').where('id', '=', theirs).executeTakeFirstOrThrow()).state).toBe('in_progress');
  });

  it("lets an operator pick the tenant and open another tenant's notification", async () => {
    const { page, context } = await login('op@mailtrail.test');
    await page.goto(`${base}/notifications?tenant=${other.id}`);
    await page.waitForSelector('h1:text("Notifications of other")');
    await expectAccessible(page);
    await page.locator(`tr[data-id="${theirs}"] a`).click();
    await page.waitForSelector('dt:text("Tenant")');
    expect(await page.textContent('main')).toContain('sam@other-customer.test');
    await context.close();
    expect(d.problems).toEqual([]);
  });
});
