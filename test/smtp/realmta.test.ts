import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verpAddress } from '../../src/core/tokens.js';
import { listMessageEvents } from '../../src/db/events.js';
import { ensureTenant } from '../../src/db/tenants.js';
import { serve, type Running } from '../../src/server/serve.js';
import { dialect, testApp, TEST_SECRET, type TestApp } from '../support/app.js';
import { insertMessage } from '../support/messages.js';
import { freePort } from './client.js';
import { realmtaUnavailable, runRealmta, type RealmtaRun } from './realmta.js';
import { allApplied } from './wait.js';

const DOMAIN = 'bounces.test';
const unavailable = realmtaUnavailable();

/** realmta's quick categories for Postfix, in its submission order (message n gets category n mod 8). */
const QUICK: Array<[category: string, rcpt: string]> = [
  ['user_unknown', 'nx-{id}@real-mta.test'],
  ['remote_user_unknown', 'nx-{id}@remote-mx.test'],
  ['mailbox_full', 'full@real-mta.test'],
  ['domain_not_found', 'someone-{id}@unroutable.test'],
  ['message_too_large', 'big-{id}@remote-mx.test'],
  ['relay_denied', 'someone-{id}@other-remote.test'],
  ['delivered', 'ok@real-mta.test'],
  ['delivered_success_dsn', 'ok@real-mta.test'],
];

/** What mailtrail must have recorded per category: the events, and whether the address is suppressed. */
const WANT: Record<string, { events: string[]; suppressed: boolean; bounceClass?: string; reason?: string }> = {
  user_unknown: { events: ['bounced'], suppressed: true, bounceClass: 'hard', reason: 'userunknown' },
  remote_user_unknown: { events: ['bounced'], suppressed: true, bounceClass: 'hard', reason: 'userunknown' },
  // Postfix's EFBIG text ("cannot update mailbox ... File too large") is the parser's to name;
  // what ingest must get right is soft and never suppressed.
  mailbox_full: { events: ['bounced'], suppressed: false, bounceClass: 'soft' },
  domain_not_found: { events: ['bounced'], suppressed: true, bounceClass: 'hard', reason: 'hostunknown' },
  message_too_large: { events: ['bounced'], suppressed: false, reason: 'mesgtoobig' },
  relay_denied: { events: ['bounced'], suppressed: false },
  delivered: { events: [], suppressed: false },
  delivered_success_dsn: { events: ['delivered'], suppressed: false },
  // slow (opt-in): a delay notice, then the final failure after the queue lifetime
  remote_mailbox_full_4xx: { events: ['deferred', 'bounced'], suppressed: false, bounceClass: 'soft' },
  connection_refused_expired: { events: ['deferred', 'bounced'], suppressed: false, bounceClass: 'soft' },
};

describe.skipIf(unavailable !== null)(`real Postfix DSNs into the listener on ${dialect}`, () => {
  let t: TestApp;
  let running: Running;
  let port: number;
  let tenantId: string;

  beforeAll(async () => {
    port = await freePort();
    t = await testApp({ MAILTRAIL_SMTP_HOST: '127.0.0.1', MAILTRAIL_SMTP_PORT: String(port), MAILTRAIL_BOUNCE_DOMAIN: DOMAIN });
    running = await serve(t.app, ['smtp']);
    tenantId = (await ensureTenant(t.app.database.db, 'realmta')).id;
  }, 120_000);
  afterAll(async () => {
    await running?.stop();
    await t?.close();
  });

  /** One mailtrail message per line of realmta's senders file, recipient as realmta will address it. */
  async function messagesFor(categories: Array<[string, string]>, count: number) {
    const out: Array<{ id: string; verp: string; category: string; recipient: string }> = [];
    for (let n = 0; n < count; n++) {
      const [category, pattern] = categories[n % categories.length];
      const id = await insertMessage(t.app.database.db, tenantId, `pending-${n}@realmta.test`);
      const recipient = pattern.replace('{id}', id);
      const verp = verpAddress(TEST_SECRET, id, DOMAIN);
      await t.app.database.db
        .updateTable('messages')
        .set({ envelope_from: verp, recipient, recipient_key: recipient.toLowerCase(), recipient_domain: recipient.split('@')[1] })
        .where('id', '=', id)
        .execute();
      out.push({ id, verp, category, recipient });
    }
    return out;
  }

  async function check(run: RealmtaRun, messages: Awaited<ReturnType<typeof messagesFor>>) {
    expect(run.code, run.output).toBe(0);
    const byId = new Map(run.expected.map((e) => [e.id, e]));
    for (const m of messages) {
      const e = byId.get(m.id);
      expect(e?.category, `realmta put ${m.id} in another category: ${run.output}`).toBe(m.category);
      expect(e?.recipient).toBe(m.recipient);
    }
    for (const o of run.observed) {
      for (const n of o.notifications ?? []) {
        expect(n.to_listener?.reply, `${o.category}: ${JSON.stringify(n)}`).toMatch(/^250 /);
      }
    }
    await allApplied(t.app.database.db);
    const problems: string[] = [];
    for (const m of messages) {
      const want = WANT[m.category];
      const events = await listMessageEvents(t.app.database.db, m.id);
      const types = events.map((e) => e.type);
      if (JSON.stringify(types) !== JSON.stringify(want.events)) problems.push(`${m.category}: events ${JSON.stringify(types)}, want ${JSON.stringify(want.events)}`);
      const last = events.at(-1)?.data as { bounce_class?: string; reason?: string } | undefined;
      if (want.bounceClass && last?.bounce_class !== want.bounceClass) problems.push(`${m.category}: class ${last?.bounce_class}, want ${want.bounceClass}`);
      if (want.reason && last?.reason !== want.reason) problems.push(`${m.category}: reason ${last?.reason}, want ${want.reason}`);
      const s = await t.app.database.db.selectFrom('suppressions').select('reason').where('tenant_id', '=', tenantId).where('address', '=', m.recipient.toLowerCase()).executeTakeFirst();
      if (!!s !== want.suppressed) problems.push(`${m.category}: suppressed=${!!s} (${s?.reason}), want ${want.suppressed}`);
    }
    expect(problems).toEqual([]);
    // Kept when anything failed above: the DSNs and MTA logs are in it.
    rmSync(run.workdir, { recursive: true, force: true });
  }

  it(
    'records every quick category as it really happens (2 messages each)',
    async () => {
      const messages = await messagesFor(QUICK, QUICK.length * 2);
      const run = await runRealmta({ port, senders: messages.map((m) => [m.id, m.verp]), args: ['--quick'] });
      await check(run, messages);
    },
    400_000,
  );

  it.skipIf(!process.env.MAILTRAIL_TEST_REALMTA_SLOW)(
    'records delay notices then the final failure for the slow categories (MAILTRAIL_TEST_REALMTA_SLOW=1)',
    async () => {
      const slow: Array<[string, string]> = [
        ['remote_mailbox_full_4xx', 'full@remote-mx.test'],
        ['connection_refused_expired', 'someone-{id}@down.test'],
      ];
      const messages = await messagesFor(slow, 4);
      const run = await runRealmta({ port, senders: messages.map((m) => [m.id, m.verp]), args: ['--categories', slow.map((s) => s[0]).join(','), '--lifetime', '45'], timeoutMs: 400_000 });
      await check(run, messages);
    },
    600_000,
  );
});

if (unavailable) describe.skip(`real Postfix DSNs: ${unavailable}`, () => it('skipped', () => {}));
