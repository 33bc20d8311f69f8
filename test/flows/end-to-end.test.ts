import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTenant } from '../../src/db/tenants.js';
import { createNotification } from '../../src/flows/create.js';
import { serve, type Running } from '../../src/server/serve.js';
import { dialect, testApp, type TestApp } from '../support/app.js';
import { startRelay, type Relay } from '../send/relay.js';
import { eventually, startSmsc, type Smsc } from '../sms/support/smsc.js';
import { freePort, session } from '../smtp/client.js';
import { postfixDsn } from '../smtp/dsn.js';

/**
 * The whole path with real components: the send worker relays the email to a real SMTP relay, a
 * Postfix DSN for it comes back to our SMTP listener, ingest records the hard bounce, the flow
 * engine starts the SMS step, the SMS worker submits it to the real test SMSC whose receipt
 * makes it delivered, and the notification is reached by SMS.
 */
describe(`cross-channel flow end to end (relay, SMTP listener, SMSC) on ${dialect}`, () => {
  let t: TestApp;
  let relay: Relay;
  let smsc: Smsc;
  let running: Running;
  let smtpPort: number;
  let tenant: string;

  beforeAll(async () => {
    relay = await startRelay();
    smsc = await startSmsc({ slowDelay: 1 });
    smtpPort = await freePort();
    t = await testApp({
      MAILTRAIL_SMTP_RELAY_URL: `smtp://127.0.0.1:${relay.port}`,
      MAILTRAIL_SMPP_URL: smsc.url('window=10&enquire=2000'),
      MAILTRAIL_SMTP_HOST: '127.0.0.1',
      MAILTRAIL_SMTP_PORT: String(smtpPort),
    });
    tenant = (await ensureTenant(t.app.database.db, 'e2e')).id;
    running = await serve(t.app, ['smtp', 'worker']);
  }, 60_000);
  afterAll(async () => {
    await running?.stop();
    await t?.close();
    await smsc?.stop();
    await relay?.close();
  });

  it('an email that hard-bounces is followed by an SMS, which reaches the person', async () => {
    const db = t.app.database.db;
    const out = await createNotification(t.app, tenant, {
      recipient: { email: 'gone@example.com', phone: '+33612345605' },
      content: { email: { from: 'Acme <news@acme.test>', subject: 'Invoice', text: 'Ready.' }, sms: { from: 'Acme', text: 'Your invoice is ready.' } },
      flow: { mode: 'cross', steps: [{ channel: 'email', next: { when: 'failed', bounce: 'hard' } }, { channel: 'sms' }] },
    });
    if (!out.ok) throw new Error(JSON.stringify(out));
    const step = (n: number) => db.selectFrom('notification_steps').selectAll().where('notification_id', '=', out.id).where('step', '=', n).executeTakeFirst();
    const email = await db.selectFrom('messages').selectAll().where('id', '=', (await step(0))!.message_id).executeTakeFirstOrThrow();

    await eventually(async () => relay.received.some((r) => r.rcptTo.includes('gone@example.com')), 30_000, 'email relayed');
    await eventually(async () => (await db.selectFrom('messages').select('status').where('id', '=', email.id).executeTakeFirstOrThrow()).status === 'sent', 30_000, 'email sent');
    expect(await step(1)).toBeUndefined();

    const c = await session(smtpPort);
    const replies = await c.send('', [email.envelope_from!], postfixDsn({ to: email.envelope_from!, recipient: 'gone@example.com' }));
    c.close();
    expect(replies.at(-1)).toMatch(/^250/);

    const sms = await eventually(async () => step(1), 30_000, 'SMS step started');
    await eventually(async () => (await db.selectFrom('messages').select('status').where('id', '=', sms.message_id).executeTakeFirstOrThrow()).status === 'delivered', 30_000, 'SMS delivered');
    const n = await eventually(async () => {
      const row = await db.selectFrom('notifications').selectAll().where('id', '=', out.id).executeTakeFirstOrThrow();
      return row.state === 'reached' ? row : undefined;
    }, 30_000, 'notification reached');
    expect(n).toMatchObject({ reached_channel: 'sms', reached_step: 1 });
    expect(smsc.journal().filter((e) => e.ev === 'submit' && e.dst === '33612345605')).toHaveLength(1);
    const started = await db.selectFrom('notification_timeline').select('data').where('notification_id', '=', out.id).where('kind', '=', 'step_started').orderBy('id').execute();
    expect(started.map((s) => s.data)).toMatchObject([{ step: 0, because: 'created' }, { step: 1, channel: 'sms', because: 'status' }]);
    const bounced = await db.selectFrom('events').select('data').where('message_id', '=', email.id).where('type', '=', 'bounced').executeTakeFirstOrThrow();
    expect(bounced.data).toMatchObject({ bounce_class: 'hard' });
  }, 120_000);
});
