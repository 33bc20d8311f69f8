import { resolve } from 'node:path';
import type { App } from '../app.js';
import { createApiKey, ensureTenant } from '../db/tenants.js';
import { createLog } from '../log.js';
import { openApp } from '../server/bootstrap.js';
import { serve, type Running } from '../server/serve.js';
import { createUser, findUserByEmail } from '../web/accounts.js';
import { generatePassword } from '../web/password.js';
import { actAs } from './people.js';
import { startRelay } from './relay.js';
import { fateOf, PEOPLE } from './scenario.js';

export interface DemoOptions {
  dataDir: string;
  httpPort: number;
  smtpPort: number;
  /** A sent message with no bounce after this long is delivered (the demo's default: 20s). */
  deliveredAfter?: string;
  logLevel?: string;
}

export interface Demo {
  app: App;
  dashboardUrl: string;
  apiUrl: string;
  apiKey: string;
  login: { email: string; password: string } | null;
  messages: Array<{ id: string; recipient: string; expect: string }>;
  stop(): Promise<void>;
}

const BOUNCE_DOMAIN = 'bounces.demo.test';
export const DEMO_TENANT = 'demo';
const DEMO_LOGIN = 'demo@demo.test';

/**
 * The whole journey on loopback: mailtrail's own roles (HTTP, SMTP listener, worker) on a data
 * dir of their own, a local relay, and simulated recipient servers and people behind it. Every
 * message goes through the real path: the API, the send worker, our SMTP listener, the tracking
 * endpoints. Nothing is written outside `dataDir`, nothing listens beyond 127.0.0.1.
 */
export async function startDemo(o: DemoOptions): Promise<Demo> {
  const dataDir = resolve(o.dataDir);
  const base = `http://127.0.0.1:${o.httpPort}`;
  const errors: string[] = [];
  const relay = await startRelay((m) => {
    const fate = fateOf(m.recipient);
    if (!fate) return;
    actAs(fate, m, {
      smtp: { host: '127.0.0.1', port: o.smtpPort },
      bounceDomain: BOUNCE_DOMAIN,
      // A person reads a while after delivery; sooner, a click is taken for a link scanner.
      delayMs: (f) => (f === 'clicked' || f === 'opened' ? 11_000 : f === 'proxy-opened' ? 3_000 : 1_000),
      onError: (err, f) => errors.push(`${f}: ${err.message}`),
    });
  });
  let app: App | undefined;
  let running: Running | undefined;
  try {
    const env = {
      MAILTRAIL_DATA_DIR: dataDir,
      MAILTRAIL_HTTP_HOST: '127.0.0.1',
      MAILTRAIL_HTTP_PORT: String(o.httpPort),
      MAILTRAIL_SMTP_HOST: '127.0.0.1',
      MAILTRAIL_SMTP_PORT: String(o.smtpPort),
      MAILTRAIL_PUBLIC_URL: base,
      MAILTRAIL_BOUNCE_DOMAIN: BOUNCE_DOMAIN,
      MAILTRAIL_SMTP_RELAY_URL: relay.url,
      MAILTRAIL_DELIVERED_AFTER: o.deliveredAfter ?? '20s',
      MAILTRAIL_TRACKING_SETTLE: '1s',
      MAILTRAIL_LOG_LEVEL: o.logLevel ?? 'warn',
      MAILTRAIL_PARSE_WORKERS: '1',
    };
    app = await openApp(env, { migrate: true, log: createLog(env.MAILTRAIL_LOG_LEVEL as 'warn') });
    running = await serve(app);
    const db = app.database.db;
    const tenant = await ensureTenant(db, DEMO_TENANT);
    const { key } = await createApiKey(db, tenant.id, 'demo');
    let login: Demo['login'] = null;
    if (!(await findUserByEmail(db, DEMO_LOGIN))) {
      const password = generatePassword();
      await createUser(db, { email: DEMO_LOGIN, tenantId: tenant.id, password, mustChange: false });
      login = { email: DEMO_LOGIN, password };
    }
    const messages: Demo['messages'] = [];
    for (const p of PEOPLE) {
      const res = await fetch(`${base}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          recipient: p.recipient,
          from: 'mailtrail demo <demo@shop.example.com>',
          subject: `[demo] Your order has shipped (${p.fate})`,
          html: '<p>[demo] Your order has shipped. <a href="https://shop.example.com/orders/42">Track it</a>.</p>',
          text: '[demo] Your order has shipped: https://shop.example.com/orders/42',
          tags: ['demo', p.fate],
        }),
      });
      const body = (await res.json()) as { id?: string; message?: string };
      if (!res.ok || !body.id) throw new Error(`demo: submitting to ${p.recipient} failed (${res.status} ${body.message ?? ''})`);
      messages.push({ id: body.id, recipient: p.recipient, expect: p.expect });
    }
    const opened = app;
    const started = running;
    return {
      app: opened,
      dashboardUrl: `${base}${opened.config.MAILTRAIL_UI_PATH}`,
      apiUrl: base,
      apiKey: key,
      login,
      messages,
      async stop() {
        await started.stop();
        await relay.stop();
        await opened.database.close();
        if (errors.length) throw new Error(`demo: simulated people failed: ${errors.join('; ')}`);
      },
    };
  } catch (err) {
    await running?.stop().catch(() => {});
    await relay.stop();
    await app?.database.close().catch(() => {});
    throw err;
  }
}
