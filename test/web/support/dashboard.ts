/// <reference lib="dom" />
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { serve, type Running } from '../../../src/server/serve.js';
import { testApp, type TestApp } from '../../support/app.js';
import { freePort } from '../../smtp/client.js';

export const CHROMIUM = '/usr/bin/chromium';
export const PASSWORD = 'a long dashboard password';

/** A served test app and a Chromium to drive its dashboard. */
export interface Dashboard {
  t: TestApp;
  base: string;
  /** Console errors and page errors seen outside `provoking` (set it while a 4xx is expected). */
  problems: string[];
  provoking: boolean;
  login(email: string): Promise<{ context: BrowserContext; page: Page }>;
  close(): Promise<void>;
}

export async function startDashboard(): Promise<Dashboard> {
  const httpPort = await freePort();
  const t = await testApp({ MAILTRAIL_HTTP_HOST: '127.0.0.1', MAILTRAIL_HTTP_PORT: String(httpPort) });
  const running: Running = await serve(t.app, ['http']);
  const { chromium } = await import('playwright-core');
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  const d: Dashboard = {
    t,
    base: `http://127.0.0.1:${httpPort}/ui`,
    problems: [],
    provoking: false,
    async login(email) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      page.on('console', (m) => !d.provoking && (m.type() === 'error' || /Content Security Policy/i.test(m.text())) && d.problems.push(`${m.text()} (${m.location().url})`));
      page.on('pageerror', (err) => d.problems.push(`page error: ${err.message}`));
      await page.goto(`${d.base}/login`);
      await page.fill('#email', email);
      await page.fill('#password', PASSWORD);
      await page.click('button[type=submit]');
      await page.waitForSelector('h1:text("Overview")');
      return { context, page };
    },
    async close() {
      await browser.close();
      await running.stop();
      await t.close();
    },
  };
  return d;
}
