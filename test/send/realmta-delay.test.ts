import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verpAddress } from '../../src/core/tokens.js';
import { listMessageEvents } from '../../src/db/events.js';
import { ensureTenant } from '../../src/db/tenants.js';
import { markDelivered } from '../../src/send/delivered-job.js';
import { sendDue } from '../../src/send/send-job.js';
import { submitMessage } from '../../src/send/submit.js';
import { serve, type Running } from '../../src/server/serve.js';
import { dialect, testApp, TEST_SECRET, type TestApp } from '../support/app.js';
import { insertMessage } from '../support/messages.js';
import { freePort } from '../smtp/client.js';
import { realmtaUnavailable, runRealmta } from '../smtp/realmta.js';
import { allApplied } from '../smtp/wait.js';

const DOMAIN = 'bounces.test';
// Postfix's queue lifetime in this run: its delay notice comes at a third of it, the final failure after it.
const LIFETIME_S = 21;
const SLOW = ['remote_mailbox_full_4xx', 'connection_refused_expired'];
const unavailable = realmtaUnavailable();

describe.skipIf(unavailable !== null)(`delay notices for mail the send worker hands to a real Postfix, on ${dialect}`, () => {
  let t: TestApp;
  let running: Running;
  let port: number;
  let tenantId: string;
  const worker = new AbortController();

  beforeAll(async () => {
    port = await freePort();
    t = await testApp({
      MAILTRAIL_SMTP_HOST: '127.0.0.1',
      MAILTRAIL_SMTP_PORT: String(port),
      MAILTRAIL_BOUNCE_DOMAIN: DOMAIN,
      // realmta's Postfix submission port: the relay the send worker uses.
      MAILTRAIL_SMTP_RELAY_URL: 'smtp://127.0.0.1:10025',
      // The no-bounce window is over long before Postfix gives up: only a delay notice keeps
      // the message from reading delivered.
      MAILTRAIL_DELIVERED_AFTER: '1s',
    });
    running = await serve(t.app, ['smtp']);
    tenantId = (await ensureTenant(t.app.database.db, 'acme')).id;
  }, 120_000);
  afterAll(async () => {
    worker.abort();
    await running?.stop();
    await t?.close();
  });

  it(
    'asks for DELAY; the delay DSN is a deferred event that re-arms the window; the final failure bounces',
    async () => {
      const db = t.app.database.db;
      const ours: Array<{ id: string; recipient: string }> = [];
      for (const recipient of ['full@remote-mx.test', `someone-${Date.now()}@down.test`]) {
        const r = await submitMessage(t.app, tenantId, { recipient, from: 'news@acme.test', subject: 'Your order', text: 'Shipped.' });
        if (!r.ok) throw new Error('submit failed');
        ours.push({ id: r.id, recipient });
      }
      // realmta submits messages of its own (one per slow category), which keep its Postfix up
      // until the queue lifetime has run out; ours go through the send worker meanwhile.
      const own = [];
      for (let i = 0; i < SLOW.length; i++) {
        const id = await insertMessage(db, tenantId, `realmta-${i}@realmta.test`);
        own.push([id, verpAddress(TEST_SECRET, id, DOMAIN)] as [string, string]);
      }
      let sending: Promise<number> | null = null;
      let finished = false;
      const run = runRealmta({
        port,
        senders: own,
        args: ['--categories', SLOW.join(','), '--lifetime', String(LIFETIME_S)],
        timeoutMs: 400_000,
        onOutput: (line) => {
          if (!sending && /postfix instance up/.test(line)) sending = sendDue(t.app, worker.signal);
        },
      }).finally(() => {
        finished = true;
      });

      // Between the delay notice and the final failure, the no-bounce window has long passed.
      const delayed = async () => {
        for (const m of ours) {
          const evs = await listMessageEvents(db, m.id);
          if (!evs.some((e) => e.type === 'deferred' && e.source === 'smtp')) return false;
          if (evs.some((e) => e.type === 'bounced')) return false;
        }
        return true;
      };
      let rearmed: Array<{ status: string; events: string[]; nextAt: Date | null }> | null = null;
      while (!finished && rearmed === null) {
        if (sending && (await delayed())) {
          await markDelivered(t.app);
          rearmed = [];
          for (const m of ours) {
            const row = await db.selectFrom('messages').select(['status', 'next_attempt_at']).where('id', '=', m.id).executeTakeFirstOrThrow();
            rearmed.push({ status: row.status, events: (await listMessageEvents(db, m.id)).map((e) => e.type), nextAt: row.next_attempt_at });
          }
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      const result = await run;
      expect(result.code, result.output).toBe(0);
      expect(await sending).toBeGreaterThanOrEqual(ours.length);
      expect(rearmed, 'no delay DSN arrived for our messages before their final failure').not.toBeNull();
      for (const r of rearmed ?? []) {
        expect(r.status).toBe('deferred');
        expect(r.events).not.toContain('delivered');
        expect(r.nextAt).not.toBeNull();
      }

      await allApplied(db);
      await markDelivered(t.app);
      for (const m of ours) {
        const evs = await listMessageEvents(db, m.id);
        expect(evs.map((e) => e.type), m.recipient).toEqual(['queued', 'sent', 'deferred', 'bounced']);
        expect(evs[2].data).toMatchObject({ action: 'delayed', bounce_class: 'soft' });
        expect(evs[3].data).toMatchObject({ action: 'failed', bounce_class: 'soft' });
        const row = await db.selectFrom('messages').select('status').where('id', '=', m.id).executeTakeFirstOrThrow();
        expect(row.status).toBe('bounced');
        expect(await db.selectFrom('suppressions').select('id').where('address', '=', m.recipient.toLowerCase()).executeTakeFirst()).toBeUndefined();
      }
      rmSync(result.workdir, { recursive: true, force: true });
    },
    600_000,
  );
});

if (unavailable) describe.skip(`delay notices through a real Postfix: ${unavailable}`, () => it('skipped', () => {}));
