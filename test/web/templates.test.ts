/// <reference lib="dom" />
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTenant } from '../../src/db/tenants.js';
import type { Tenant } from '../../src/db/types.js';
import { createTemplate, decide } from '../../src/templates/store.js';
import { createUser } from '../../src/web/accounts.js';
import { expectAccessible } from './support/axe.js';
import { CHROMIUM, PASSWORD, startDashboard, type Dashboard } from './support/dashboard.js';
import { dialect, type TestApp } from '../support/app.js';
import { insertMessage } from '../support/messages.js';

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`test/web/templates: skipped, ${CHROMIUM} is absent (apt-get install chromium; CI installs it)`);
const XSS = '<img src=x onerror="window.__xss = 1">';

describe.skipIf(!haveChromium)(`dashboard template pages in Chromium on ${dialect}`, () => {
  let d: Dashboard;
  let t: TestApp;
  let base: string;
  let acme: Tenant;
  let other: Tenant;
  let annActor: string;
  let held: string;

  beforeAll(async () => {
    d = await startDashboard();
    ({ t, base } = d);
    const db = t.app.database.db;
    acme = await ensureTenant(db, 'acme');
    other = await ensureTenant(db, 'other');
    const ann = await createUser(db, { email: 'ann@acme.test', tenantId: acme.id, password: PASSWORD, mustChange: false });
    await createUser(db, { email: 'bob@acme.test', tenantId: acme.id, password: PASSWORD, mustChange: false });
    annActor = `user:${ann.id}`;
    // Ann wrote and submitted version 1 (the default policy: one step, anyone but the author).
    const made = await createTemplate(t.app, acme.id, annActor, { key: 'offer', name: `Offer ${XSS}`, channel: 'email', content: { subject: 'Hello {{ name }}', text: 'Dear {{ name }}, your rate is {{ rate }}%.', html: '<p>Dear {{ name }}</p>' } });
    expect(made.ok).toBe(true);
    expect(await decide(t.app, acme.id, annActor, 'offer', 1, 'submit')).toMatchObject({ ok: true, version: { state: 'pending' } });
    await createTemplate(t.app, other.id, 'key:someone', { key: 'secret-offer', name: 'Other tenant only', channel: 'email', content: { subject: 'Hi', text: 'x' } });
    // A message held in pending_approval, asked for by Ann.
    held = await insertMessage(db, acme.id, 'reader@remote.test', 'pending_approval');
    await db.insertInto('message_approvals').values({ message_id: held, tenant_id: acme.id, requested_by: annActor, state: 'pending' }).execute();
  }, 180_000);
  afterAll(async () => d?.close());
  const login = (email: string) => d.login(email);
  const state = () => t.app.database.db.selectFrom('template_versions').select('state').where('tenant_id', '=', acme.id).where('version', '=', 1).executeTakeFirstOrThrow().then((r) => r.state);

  it("lists only the tenant's own templates; the author sees why they cannot approve, and a forced approval is refused", async () => {
    const { page, context } = await login('ann@acme.test');
    await page.click('nav a:text("Templates")');
    await page.waitForSelector('h1:text("Templates")');
    await expectAccessible(page);
    expect(await page.locator('tr[data-key="offer"]').textContent()).toContain(XSS);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('tr[data-key="secret-offer"]').count()).toBe(0);
    expect(await page.locator(`tr[data-message="${held}"]`).textContent()).toContain('another person must release it');
    await page.locator('tr[data-key="offer"] a').click();
    await page.waitForSelector('h1:text("Template offer")');
    await expectAccessible(page);
    expect(await page.textContent('[data-testid=shown-state]')).toBe('pending');
    expect(await page.textContent('[data-testid=why-no-approve]')).toContain('the author cannot approve');
    expect(await page.locator('button:text("Approve")').count()).toBe(0);
    d.provoking = true;
    const csrf = await page.getAttribute('input[name=_csrf]', 'value');
    const forced = await page.request.post(`${base}/templates/offer/versions/1/approve`, { form: { _csrf: csrf! } });
    expect(forced.status()).toBe(403);
    expect(await forced.text()).toContain('the author of a version cannot approve or reject it');
    expect(await state()).toBe('pending');
    // Another tenant's template is not found for her.
    expect((await page.goto(`${base}/templates/secret-offer?tenant=${other.id}`))?.status()).toBe(404);
    d.provoking = false;
    await context.close();
  });

  it("shows a version's content and the API's preview with sample and given values, escaped", async () => {
    const { page, context } = await login('bob@acme.test');
    await page.goto(`${base}/templates/offer`);
    expect(await page.textContent('[data-testid=html]')).toBe('<p>Dear {{ name }}</p>');
    await page.click('button:text("Preview")');
    await page.waitForSelector('[data-testid=preview]');
    expect(await page.textContent('[data-testid=preview-subject]')).toMatch(/^Hello \S/);
    await page.fill('#p-values', JSON.stringify({ name: XSS, rate: 12 }));
    await page.click('button:text("Preview")');
    await page.waitForSelector('[data-testid=preview-text]');
    expect(await page.textContent('[data-testid=preview-text]')).toBe(`Dear ${XSS}, your rate is 12%.`);
    // The HTML engine escapes the value; the page escapes the source it shows.
    expect(await page.textContent('[data-testid=preview-html]')).toMatch(/^<p>Dear &lt;img src=x onerror=&(quot|#34);window.__xss = 1&(quot|#34);&gt;<\/p>$/);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    await expectAccessible(page);
    d.provoking = true;
    // A missing variable is listed by name, never a blank in the letter.
    await page.fill('#p-values', JSON.stringify({ rate: 12 }));
    await page.click('button:text("Preview")');
    await page.waitForSelector('.error');
    expect(await page.textContent('[data-testid=preview]')).toMatch(/name: /);
    expect(await page.locator('[data-testid=preview-text]').count()).toBe(0);
    d.provoking = false;
    await context.close();
  });

  it('another user rejects with a comment, the author resubmits, the other approves and activates after a confirmation', async () => {
    const bob = await login('bob@acme.test');
    const { page } = bob;
    await page.goto(`${base}/templates`);
    await page.click('[data-testid=waiting] a:text("offer version 1")');
    await page.fill('#c-reject', `needs the legal line ${XSS}`);
    await page.click('button:text("Reject")');
    await page.waitForSelector('.notice:text("Rejected")');
    expect(await page.textContent('[data-testid=rejection]')).toContain(`needs the legal line ${XSS}`);
    expect(await state()).toBe('draft');
    const ann = await login('ann@acme.test');
    await ann.page.goto(`${base}/templates/offer`);
    await ann.page.click('button:text("Submit for approval")');
    await ann.page.waitForSelector('.notice:text("Submitted")');
    expect(await state()).toBe('pending');
    await ann.context.close();
    await page.goto(`${base}/templates/offer`);
    await page.fill('#c-approve', 'fine now');
    await page.click('button:text("Approve")');
    await page.waitForSelector('.notice:text("Approved")');
    expect(await state()).toBe('approved');
    await page.click('button:text("Activate")');
    await page.waitForSelector('h1:text("Activate version 1 of offer?")');
    await expectAccessible(page);
    expect(await state()).toBe('approved');
    await page.click('button:text("Yes, activate it")');
    await page.waitForSelector('.notice:text("Activated")');
    expect(await page.textContent('tr[data-version="1"] [data-testid=state]')).toBe('active');
    expect(await state()).toBe('active');
    await bob.context.close();
  });

  it('another user releases the held message; its requester could not', async () => {
    const { page, context } = await login('bob@acme.test');
    await page.goto(`${base}/templates`);
    await page.locator(`tr[data-message="${held}"] button:text("Release")`).click();
    await page.waitForSelector('.notice:text("Released")');
    expect(await page.locator(`tr[data-message="${held}"]`).count()).toBe(0);
    const a = await t.app.database.db.selectFrom('message_approvals').select(['state', 'decided_by']).where('message_id', '=', held).executeTakeFirstOrThrow();
    expect(a.state).toBe('released');
    expect(a.decided_by).not.toBe(annActor);
    await context.close();
    expect(d.problems).toEqual([]);
  });
});
