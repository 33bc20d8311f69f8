import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { ensureTenant } from '../../src/db/tenants.js';
import { listMessageEvents } from '../../src/db/events.js';
import { deliveredJob } from '../../src/send/delivered-job.js';
import { startWorker, type Worker } from '../../src/server/worker.js';
import { gatewayFor } from '../../src/sms/gateway.js';
import { smsMetrics } from '../../src/sms/metrics.js';
import { smsSendJob } from '../../src/sms/send-job.js';
import { submitSms } from '../../src/sms/submit.js';
import { dialect, testApp, type TestApp } from '../support/app.js';
import { eventually, freePort, startSmsc, type Smsc } from './support/smsc.js';

const number = (n: number) => `+3361234${String(n).padStart(4, '0')}`;

describe(`SMS sending when the SMSC misbehaves (real test SMSC) on ${dialect}`, () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function setup(url: string, env: Record<string, string> = {}, jobs = [smsSendJob]) {
    const t: TestApp = await testApp({ MAILTRAIL_SMPP_URL: url, ...env });
    cleanup.push(() => t.close());
    const tenantId = (await ensureTenant(t.app.database.db, 'sms')).id;
    const worker: Worker = startWorker(t.app, jobs);
    cleanup.push(() => worker.stop());
    const send = async (numbers: number[], app: App = t.app) => {
      const ids: string[] = [];
      for (const n of numbers) {
        const r = await submitSms(app, tenantId, { channel: 'sms', recipient: number(n), from: 'Acme', text: `msg ${n}` });
        if (!r.ok) throw new Error(JSON.stringify(r.issues));
        ids.push(r.id);
      }
      return ids;
    };
    const statuses = async (ids: string[]) =>
      (await t.app.database.db.selectFrom('messages').select(['id', 'status', 'attempts']).where('id', 'in', ids).execute());
    const all = (ids: string[], ok: string[]) => eventually(async () => (await statuses(ids)).every((m) => ok.includes(m.status)), 30_000, `all ${ok.join('/')}`);
    return { t, send, statuses, all, tenantId };
  }
  async function smscWith(opts: Parameters<typeof startSmsc>[0]): Promise<Smsc> {
    const s = await startSmsc(opts);
    cleanup.push(() => s.stop());
    return s;
  }
  /** Each destination submitted (accepted) exactly once. */
  function onceEach(smsc: Smsc, numbers: number[]) {
    const subs = smsc.journal().filter((e) => e.ev === 'submit');
    const counts = new Map<string, number>();
    for (const e of subs) counts.set(e.dst ?? '', (counts.get(e.dst ?? '') ?? 0) + 1);
    expect(Object.fromEntries(numbers.map((n) => [number(n).slice(1), counts.get(number(n).slice(1)) ?? 0]))).toEqual(
      Object.fromEntries(numbers.map((n) => [number(n).slice(1), 1])),
    );
  }

  it('throttling (ESME_RTHROTTLED): backs off and retries, nothing lost or sent twice', async () => {
    const smsc = await smscWith({ maxPerSec: 5 });
    const { send, all } = await setup(smsc.url('window=10'));
    const numbers = Array.from({ length: 20 }, (_, i) => 100 + i * 10 + 5);
    const ids = await send(numbers);
    await all(ids, ['delivered']);
    expect(smsc.journal().filter((e) => e.ev === 'throttled').length).toBeGreaterThan(0);
    onceEach(smsc, numbers);
  }, 60_000);

  it('the SMSC down at start: messages wait (not claimed), then go once it is up', async () => {
    const port = await freePort();
    const { send, statuses, all } = await setup(`smpp://mailtrail:secret@127.0.0.1:${port}`);
    const numbers = [205, 215, 225];
    const ids = await send(numbers);
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await statuses(ids)).map((m) => [m.status, m.attempts])).toEqual([['queued', 0], ['queued', 0], ['queued', 0]]);
    const smsc = await smscWith({ port });
    await all(ids, ['delivered']);
    onceEach(smsc, numbers);
  }, 60_000);

  it('the SMSC down mid-run: what comes meanwhile waits (not claimed), then goes once it is back, each once', async () => {
    const first = await startSmsc({});
    let firstUp = true;
    cleanup.push(async () => {
      if (firstUp) await first.stop();
    });
    const { send, statuses, all } = await setup(first.url());
    const before = [235, 245];
    await all(await send(before), ['delivered']);
    const journal = first.journal();
    await first.stop();
    firstUp = false;
    const during = [255, 265, 275];
    const ids = await send(during);
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await statuses(ids)).map((m) => [m.status, m.attempts])).toEqual([['queued', 0], ['queued', 0], ['queued', 0]]);
    const second = await smscWith({ port: first.port });
    await all(ids, ['delivered']);
    const both = { journal: () => [...journal, ...second.journal()] } as Smsc;
    onceEach(both, [...before, ...during]);
    expect(journal.filter((e) => e.ev === 'submit').map((e) => e.dst).sort()).toEqual(before.map((n) => number(n).slice(1)).sort());
  }, 60_000);

  it('bad credentials: a clear error naming the refused bind, nothing sent, nothing lost', async () => {
    const smsc = await smscWith({});
    const { t, send, statuses } = await setup(smsc.url('', 'mailtrail', 'wrong'));
    const ids = await send([305]);
    const gw = gatewayFor(t.app);
    const err = await eventually(async () => gw?.links[0].lastError?.includes('refused') && gw.links[0].lastError, 10_000, 'bind error');
    expect(err).toMatch(/bind_transceiver refused: ESME_RBINDFAIL \(0x0d\); check the system_id and password/);
    expect(err).not.toContain('wrong');
    expect(smsc.journal().filter((e) => e.ev === 'bind').map((e) => e.ok)).toContain(0);
    expect((await statuses(ids)).map((m) => [m.status, m.attempts])).toEqual([['queued', 0]]);
    expect(smsc.journal().filter((e) => e.ev === 'submit')).toHaveLength(0);
  }, 30_000);

  it('a connection dropped every 5 submits: never-written parts go exactly once; unanswered ones again, bounded and counted', async () => {
    // The SMSC closes right after writing its 5th submit_sm_resp, with our next submits unread:
    // the resp can be lost with the connection (RST), and the submits behind it were written but
    // never read. SMPP cannot tell those two apart, so both are sent again and counted.
    const smsc = await smscWith({ dropEvery: 5 });
    const { t, send, all } = await setup(smsc.url('window=4'));
    const numbers = Array.from({ length: 23 }, (_, i) => 400 + i * 10 + 6);
    const ids = await send(numbers);
    // Receipts due on a connection the SMSC closed are lost with it: those messages stay sent.
    await all(ids, ['sent', 'delivered']);
    expect(smsc.journal().filter((e) => e.ev === 'drop').length).toBeGreaterThanOrEqual(4);
    const accepted = new Map<string, number>();
    for (const e of smsc.journal().filter((e) => e.ev === 'submit')) accepted.set(e.dst ?? '', (accepted.get(e.dst ?? '') ?? 0) + 1);
    let resubmitted = 0;
    let extra = 0;
    for (const [i, id] of ids.entries()) {
      const sent = (await listMessageEvents(t.app.database.db, id)).filter((e) => e.type === 'sent');
      expect(sent).toHaveLength(1);
      const n = (sent[0].data as { unconfirmed_resubmits?: number }).unconfirmed_resubmits ?? 0;
      const got = accepted.get(number(numbers[i]).slice(1)) ?? 0;
      // Exactly once when every resubmission was of a never-written PDU; at most once more per unanswered one.
      expect({ n, got, ok: got >= 1 && got <= 1 + n }).toEqual({ n, got, ok: true });
      if (n === 0) expect(got).toBe(1);
      resubmitted += n;
      extra += got - 1;
    }
    // The metric counts every resubmission, and bounds the duplicates the SMSC really accepted.
    const counted = (await smsMetrics(t.app.metrics).unconfirmedResubmits.get()).values.reduce((a, v) => a + v.value, 0);
    expect(counted).toBe(resubmitted);
    expect(extra).toBeLessThanOrEqual(counted);
    // With a window of 4 some submits are always behind the 5th when it drops: the path is taken.
    expect(resubmitted).toBeGreaterThan(0);
  }, 60_000);

  it('receipts as data_sm', async () => {
    const smsc = await smscWith({ receiptPdu: 'data_sm' });
    const { t, send, all } = await setup(smsc.url());
    const ids = await send([505, 500]);
    await eventually(async () => {
      const rows = await t.app.database.db.selectFrom('messages').select('status').where('id', 'in', ids).orderBy('id').execute();
      return rows[0].status === 'delivered' && rows[1].status === 'bounced';
    }, 20_000, 'data_sm receipts applied');
    expect(smsc.journal().filter((e) => e.ev === 'receipt').map((e) => e.pdu)).toEqual(['data_sm', 'data_sm']);
    expect((await listMessageEvents(t.app.database.db, ids[0])).find((e) => e.type === 'delivered')?.data).toMatchObject({ pdu: 'data_sm', stat: 'DELIVRD' });
  }, 30_000);

  it('an SMSC that never sends receipts: delivered after the window when it is configured no_receipt=delivered', async () => {
    const smsc = await smscWith({});
    const { t, send, all } = await setup(smsc.url('no_receipt=delivered'), { MAILTRAIL_SMS_RECEIPT_WINDOW: '1s' }, [smsSendJob, deliveredJob]);
    const ids = await send([603]);
    await all(ids, ['delivered']);
    expect((await listMessageEvents(t.app.database.db, ids[0])).map((e) => [e.type, e.source])).toEqual([['queued', 'api'], ['sent', 'sms'], ['delivered', 'timer']]);
    expect(smsc.journal().filter((e) => e.ev === 'receipt')).toHaveLength(0);
  }, 30_000);

  it('two workers (two apps, two SMPP sessions) on one database never send one message twice', async () => {
    const smsc = await smscWith({});
    const { t, send, all } = await setup(smsc.url('window=5'));
    const other = createApp({ config: t.app.config, database: t.app.database, log: t.app.log, secret: t.app.secret });
    const w2 = startWorker(other, [smsSendJob]);
    cleanup.push(() => w2.stop());
    await eventually(async () => gatewayFor(other)?.bound().length === 1 && gatewayFor(t.app)?.bound().length === 1, 10_000, 'both bound');
    const numbers = Array.from({ length: 40 }, (_, i) => 700 + i * 10 + 7);
    const ids = await send(numbers);
    await all(ids, ['delivered']);
    onceEach(smsc, numbers);
    expect(new Set(smsc.journal().filter((e) => e.ev === 'submit').map((e) => e.conn)).size).toBe(2);
  }, 60_000);
});
