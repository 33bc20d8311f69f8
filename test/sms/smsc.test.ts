import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, ensureTenant } from '../../src/db/tenants.js';
import { listMessageEvents } from '../../src/db/events.js';
import { startWorker, type Worker } from '../../src/server/worker.js';
import { smsSendJob } from '../../src/sms/send-job.js';
import { submitSms } from '../../src/sms/submit.js';
import { dialect, testApp, type TestApp } from '../support/app.js';
import { eventually, startSmsc, type Smsc } from './support/smsc.js';

/** French mobile numbers whose last digits pick the test SMSC's outcome. */
const number = (last: string) => `+336123456${last.padStart(2, '0')}`;

describe(`SMS through the real test SMSC on ${dialect}`, () => {
  let smsc: Smsc;
  let t: TestApp;
  let worker: Worker;
  let tenantId: string;

  const send = async (recipient: string, text: string, from = 'Acme') => {
    const r = await submitSms(t.app, tenantId, { channel: 'sms', recipient, from, text });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    return r.id;
  };
  const message = (id: string) => t.app.database.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const statusIs = (id: string, status: string) => eventually(async () => (await message(id)).status === status, 20_000, `${id} ${status}`);

  beforeAll(async () => {
    smsc = await startSmsc({ slowDelay: 1 });
    t = await testApp({ MAILTRAIL_SMPP_URL: smsc.url('window=10&enquire=2000') });
    tenantId = (await ensureTenant(t.app.database.db, 'sms')).id;
    await createApiKey(t.app.database.db, tenantId);
    worker = startWorker(t.app, [smsSendJob]);
  });
  afterAll(async () => {
    await worker?.stop();
    await t?.close();
    await smsc?.stop();
  });

  it('follows every outcome by the destination digit, as the SMSC journal shows', async () => {
    const ids = {
      delivered: await send(number('5'), 'Hello'),
      hard: await send(number('0'), 'Hello'),
      rejectd: await send(number('1'), 'Hello'),
      expired: await send(number('2'), 'Hello'),
      none: await send(number('3'), 'Hello'),
      slow: await send(number('4'), 'Hello'),
      refused: await send(number('99'), 'Hello'),
    };
    await statusIs(ids.delivered, 'delivered');
    await statusIs(ids.hard, 'bounced');
    await statusIs(ids.rejectd, 'bounced');
    await statusIs(ids.expired, 'bounced');
    await statusIs(ids.refused, 'bounced');
    await statusIs(ids.slow, 'delivered');
    await statusIs(ids.none, 'sent');

    const ev = async (id: string, type: string) => (await listMessageEvents(t.app.database.db, id)).find((e) => e.type === type)?.data;
    const j = smsc.journal();
    const submitted = (dst: string) => j.filter((e) => e.ev === 'submit' && e.dst === dst);
    for (const [key, id] of Object.entries(ids)) {
      const m = await message(id);
      const dst = m.recipient.slice(1);
      if (key === 'refused') {
        expect(j.filter((e) => e.ev === 'refused' && e.dst === dst)).toHaveLength(1);
        expect(submitted(dst)).toHaveLength(0);
        continue;
      }
      // Sent exactly once, with the SMSC's id stored, data_coding set, a receipt asked for.
      const subs = submitted(dst);
      expect(subs).toHaveLength(1);
      expect(subs[0]).toMatchObject({ dcs: 0, esm: 0, registered_delivery: 1, src: 'Acme' });
      const parts = await t.app.database.db.selectFrom('sms_parts').selectAll().where('message_id', '=', id).execute();
      expect(parts.map((p) => p.smsc_message_id)).toEqual([subs[0].id]);
      expect(await ev(id, 'sent')).toMatchObject({ smsc_message_ids: [subs[0].id], encoding: 'gsm7', segments: 1 });
    }
    expect(await ev(ids.delivered, 'delivered')).toMatchObject({ stat: 'DELIVRD', pdu: 'deliver_sm' });
    expect(await ev(ids.hard, 'bounced')).toMatchObject({ stat: 'UNDELIV', err: '001', bounce_class: 'hard', reason: 'userunknown' });
    expect(await ev(ids.rejectd, 'bounced')).toMatchObject({ stat: 'REJECTD', bounce_class: 'soft' });
    expect(await ev(ids.expired, 'bounced')).toMatchObject({ stat: 'EXPIRED', bounce_class: 'soft', reason: 'expired', expired: true });
    expect(await ev(ids.refused, 'bounced')).toMatchObject({ smpp_status: 'ESME_RINVDSTADR', synchronous: true, bounce_class: 'hard' });
    // The hard failures suppress the number; the soft ones do not.
    const suppressed = (await t.app.database.db.selectFrom('suppressions').select('address').where('tenant_id', '=', tenantId).execute()).map((s) => s.address);
    expect(suppressed).toEqual(expect.arrayContaining([number('0'), number('99')]));
    expect(suppressed).not.toContain(number('1'));
    expect(suppressed).not.toContain(number('2'));
    // Every receipt the SMSC sent is kept raw, correlated.
    const receipts = await t.app.database.db.selectFrom('raw_reports').select(['kind', 'correlated', 'source']).where('source', '=', 'sms').execute();
    expect(receipts.filter((r) => r.kind === 'sms-receipt')).toHaveLength(j.filter((e) => e.ev === 'receipt').length);
    expect(receipts.every((r) => r.correlated)).toBe(true);
  });

  it('sends GSM-7 with accents and escapes, UCS-2 with emoji, and a 3-part message delivered once all parts are', async () => {
    const gsm = 'Café à 5€, [ok] ~ {été}';
    const ucs = 'Привет 😀 ça va?';
    const long = Array.from({ length: 40 }, (_, i) => `part${i}`).join(' ') + ' ' + 'x'.repeat(120);
    const a = await send(number('15'), gsm);
    const b = await send(number('16'), ucs);
    const c = await send(number('17'), long);
    for (const id of [a, b, c]) await statusIs(id, 'delivered');
    const j = smsc.journal().filter((e) => e.ev === 'submit');
    const ja = j.filter((e) => e.dst === number('15').slice(1));
    expect(ja).toMatchObject([{ dcs: 0 }]);
    expect(smsc.textOf(ja[0])).toBe(gsm);
    const jb = j.filter((e) => e.dst === number('16').slice(1));
    expect(jb).toMatchObject([{ dcs: 8 }]);
    expect(smsc.textOf(jb[0])).toBe(ucs);
    const jc = j.filter((e) => e.dst === number('17').slice(1));
    expect(long.length).toBeGreaterThan(306);
    expect(jc).toHaveLength(3);
    expect(jc.map((e) => [e.esm, e.udh_total, e.udh_seq])).toEqual([[0x40, 3, 1], [0x40, 3, 2], [0x40, 3, 3]]);
    expect(new Set(jc.map((e) => e.udh_ref)).size).toBe(1);
    expect(jc.map((e) => smsc.textOf(e)).join('')).toBe(long);
    const parts = await t.app.database.db.selectFrom('sms_parts').selectAll().where('message_id', '=', c).orderBy('part').execute();
    expect(parts.map((p) => [p.part, p.total, p.smsc_message_id, p.receipt_stat])).toEqual(jc.map((e, i) => [i + 1, 3, e.id, 'DELIVRD']));
    const delivered = (await listMessageEvents(t.app.database.db, c)).filter((e) => e.type === 'delivered');
    expect(delivered).toHaveLength(1);
  });

  it('an inbound STOP unsubscribes the latest SMS to the number and suppresses it', async () => {
    const older = await send(number('29'), 'first');
    const latest = await send(number('29'), 'second');
    await statusIs(latest, 'unsubscribed');
    await statusIs(older, 'delivered');
    const mo = smsc.journal().filter((e) => e.ev === 'mo' && e.src === number('29').slice(1));
    expect(mo).toHaveLength(2);
    const ev = (await listMessageEvents(t.app.database.db, latest)).filter((e) => e.type === 'unsubscribed');
    expect(ev).toHaveLength(2);
    expect(ev[0].data).toMatchObject({ from: number('29'), text: 'STOP', method: 'sms-stop' });
    expect((await listMessageEvents(t.app.database.db, older)).some((e) => e.type === 'unsubscribed')).toBe(false);
    const s = await t.app.database.db.selectFrom('suppressions').selectAll().where('tenant_id', '=', tenantId).where('address', '=', number('29')).executeTakeFirst();
    expect(s).toMatchObject({ reason: 'unsubscribed', source: 'unsubscribe' });
    const again = await submitSms(t.app, tenantId, { channel: 'sms', recipient: number('29'), from: 'Acme', text: 'third' });
    expect(again).toMatchObject({ ok: true, status: 'rejected' });
    const raw = await t.app.database.db.selectFrom('raw_reports').select(['kind', 'correlated']).where('kind', '=', 'sms-mo').execute();
    expect(raw).toEqual([{ kind: 'sms-mo', correlated: true }, { kind: 'sms-mo', correlated: true }]);
  });
});
