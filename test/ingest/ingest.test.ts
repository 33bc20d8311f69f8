import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/app.js';
import { uuidv7 } from '../../src/core/ids.js';
import { messageIdHeader, unsubscribeMailto, verpAddress } from '../../src/core/tokens.js';
import { listMessageEvents } from '../../src/db/events.js';
import { ensureTenant } from '../../src/db/tenants.js';
import { createGroupIngestor, storeBatch } from '../../src/ingest/group-commit.js';
import { createIngestor, type Ingestor } from '../../src/ingest/ingest.js';
import { prepareReport } from '../../src/ingest/prepare.js';
import { reprocess } from '../../src/ingest/reprocess.js';
import { markDelivered } from '../../src/send/delivered-job.js';
import type { Parser } from '../../src/ingest/types.js';
import { runReprocess } from '../../src/cli/reprocess.js';
import type { Report } from '../../src/parsers/report.js';
import type { InboundEnvelope } from '../../src/ingest/types.js';
import { dialect, testApp, TEST_SECRET, type TestApp } from '../support/app.js';
import { insertMessage } from '../support/messages.js';
import { fixtureParser, rawOf, recipient, report } from './fixtures.js';

const DOMAIN = 'bounces.test';

describe(`ingest on ${dialect}`, () => {
  let t: TestApp;
  let tenantId: string;
  let ingestor: Ingestor;
  let now = new Date('2026-03-01T00:00:00Z');
  // While `stepping`, every reading of the clock is 1 ms later: statements show apart by their time.
  let stepping = false;
  const clock: Clock = { now: () => (stepping ? (now = new Date(now.getTime() + 1)) : now) };

  beforeAll(async () => {
    t = await testApp({ MAILTRAIL_SOFT_BOUNCE_LIMIT: '3/7d' }, clock);
    tenantId = (await ensureTenant(t.app.database.db, 'acme')).id;
    ingestor = createIngestor(t.app, fixtureParser);
  }, 120_000);
  afterAll(() => t.close());

  const db = () => t.app.database.db;
  const env = (...rcptTo: string[]): InboundEnvelope => ({ source: 'smtp', mailFrom: '', rcptTo, remoteAddress: '127.0.0.1' });

  async function message(recipientAddress = `r${Math.random().toString(36).slice(2)}@example.com`) {
    const id = await insertMessage(db(), tenantId, recipientAddress);
    const verp = verpAddress(TEST_SECRET, id, DOMAIN);
    // As submit writes them: the Message-ID carries the HMAC-tagged id.
    const header = messageIdHeader(TEST_SECRET, id, DOMAIN);
    await db().updateTable('messages').set({ envelope_from: verp, message_id_header: header }).where('id', '=', id).execute();
    return { id, verp, messageIdHeader: header, address: recipientAddress.toLowerCase() };
  }
  const events = async (id: string) => (await listMessageEvents(db(), id)).map((e) => e.type);
  const status = async (id: string) =>
    (await db().selectFrom('messages').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;
  const suppression = (address: string) =>
    db().selectFrom('suppressions').selectAll().where('tenant_id', '=', tenantId).where('address', '=', address).executeTakeFirst();

  it('stores a VERP hard bounce compressed with its sha256, bounces the message and suppresses the address', async () => {
    const m = await message('Dead@Example.com');
    const raw = rawOf(report({ recipients: [recipient({ recipient: 'dead@example.com' })] }));
    const out = await ingestor.ingest(raw, env(m.verp.toUpperCase()));
    expect(out).toMatchObject({ duplicate: false, kind: 'bounce', correlated: 1, events: 1 });
    const row = await db().selectFrom('raw_reports').selectAll().where('id', '=', out.reportId).executeTakeFirstOrThrow();
    expect(row.sha256).toBe(createHash('sha256').update(raw).digest('hex'));
    expect(gunzipSync(row.raw!).equals(raw)).toBe(true);
    expect(row).toMatchObject({ correlated: true, tenant_id: tenantId, kind: 'bounce', parser_version: 'fixture-1', size: raw.length });
    expect(await status(m.id)).toBe('bounced');
    const [e] = await listMessageEvents(db(), m.id);
    expect(e).toMatchObject({ type: 'bounced', source: 'smtp', report_id: out.reportId });
    expect(e.data).toMatchObject({ bounce_class: 'hard', reason: 'userunknown', status: '5.1.1', replycode: '550', recipient: 'dead@example.com' });
    expect(await suppression('dead@example.com')).toMatchObject({ source: 'bounce', reason: 'userunknown', event_id: e.id });
  });

  it('stores the same message delivered twice once, and records its events once', async () => {
    const m = await message();
    const raw = rawOf(report({ recipients: [recipient({ recipient: m.address })] }));
    const first = await ingestor.ingest(raw, env(m.verp));
    const again = await ingestor.ingest(raw, env(m.verp));
    expect(again).toMatchObject({ reportId: first.reportId, duplicate: true, events: 0 });
    const concurrent = await Promise.all([1, 2, 3].map(() => ingestor.ingest(raw, env(m.verp))));
    expect(concurrent.every((o) => o.duplicate)).toBe(true);
    expect(await events(m.id)).toEqual(['bounced']);
    const sha = createHash('sha256').update(raw).digest('hex');
    expect(await db().selectFrom('raw_reports').select('id').where('sha256', '=', sha).execute()).toHaveLength(1);
  });

  it('never attaches a tampered or unknown VERP token, but keeps the report as uncorrelated', async () => {
    const m = await message();
    const [local, domain] = m.verp.split('@');
    const tampered = `${local.slice(0, -2)}${local.endsWith('aa') ? 'bb' : 'aa'}@${domain}`;
    const unknown = verpAddress(TEST_SECRET, uuidv7(), DOMAIN);
    for (const rcpt of [tampered, unknown, verpAddress('another-secret-0123456789abcdef0123456789', m.id, DOMAIN)]) {
      const out = await ingestor.ingest(rawOf(report({ recipients: [recipient({ recipient: m.address })] })), env(rcpt));
      expect(out).toMatchObject({ duplicate: false, correlated: 0, events: 0 });
      const row = await db().selectFrom('raw_reports').select(['correlated', 'tenant_id']).where('id', '=', out.reportId).executeTakeFirstOrThrow();
      expect(row).toEqual({ correlated: false, tenant_id: null });
    }
    expect(await events(m.id)).toEqual([]);
  });

  it('correlates by our Message-ID, then by the returned Return-Path, when the envelope names nothing', async () => {
    const a = await message();
    const byId = await ingestor.ingest(rawOf(report({ recipients: [recipient({ recipient: a.address })] }, { message_id: a.messageIdHeader.slice(1, -1) })), env(`postmaster@${DOMAIN}`));
    expect(byId).toMatchObject({ correlated: 1, events: 1 });
    const b = await message();
    const byPath = await ingestor.ingest(rawOf(report({ recipients: [recipient({ recipient: b.address })] }, { envelope_from: `<${b.verp}>` })), env(`postmaster@${DOMAIN}`));
    expect(byPath).toMatchObject({ correlated: 1, events: 1 });
    expect(await events(a.id)).toEqual(['bounced']);
    expect(await events(b.id)).toEqual(['bounced']);
  });

  it('trusts a bare message id (ENVID, X-Mailtrail-Id) only when the report recipient agrees', async () => {
    const m = await message();
    // Sent before ids were tagged: bare ids are the only ones it ever handed out.
    await db().updateTable('messages').set({ message_id_header: `<${m.id}@${DOMAIN}>` }).where('id', '=', m.id).execute();
    const stranger = recipient({ recipient: 'victim@elsewhere.test' });
    for (const original of [{ original_envelope_id: m.id }, { mailtrail_id: m.id }]) {
      const forged = await ingestor.ingest(rawOf(report({ recipients: [stranger] }, original)), env(`postmaster@${DOMAIN}`));
      expect(forged.correlated).toBe(0);
    }
    expect(await events(m.id)).toEqual([]);
    const ok = await ingestor.ingest(rawOf(report({ recipients: [recipient({ recipient: m.address })] }, { original_envelope_id: m.id.toUpperCase() })), env(`postmaster@${DOMAIN}`));
    expect(ok).toMatchObject({ correlated: 1, events: 1 });
    const signed = await message();
    // A signed ENVID attaches the report, but a stranger is not this message's recipient: no event.
    const signedEnvid = { original_envelope_id: signed.verp.slice(2).split('@')[0] };
    expect(await ingestor.ingest(rawOf(report({ recipients: [stranger] }, signedEnvid)), env(`postmaster@${DOMAIN}`))).toMatchObject({ correlated: 1, events: 0 });
    const bySignedEnvid = await ingestor.ingest(rawOf(report({ recipients: [recipient({ recipient: signed.address })] }, signedEnvid)), env(`postmaster@${DOMAIN}`));
    expect(bySignedEnvid).toMatchObject({ correlated: 1, events: 1 });
  });

  it('updates each message of a report with several recipients', async () => {
    const a = await message();
    const b = await message();
    const out = await ingestor.ingest(
      rawOf(report({ recipients: [recipient({ recipient: a.address }), recipient({ recipient: b.address, action: 'delayed', status: '4.2.2', reason: 'mailboxfull', bounce_class: 'soft' })] })),
      env(a.verp, b.verp),
    );
    expect(out).toMatchObject({ correlated: 2, events: 2 });
    expect(await events(a.id)).toEqual(['bounced']);
    expect(await events(b.id)).toEqual(['deferred']);
    expect(await status(b.id)).toBe('deferred');
  });

  it('suppresses after 3 soft failures of distinct messages in 7 days, never on one, never for policy blocks', async () => {
    const address = `soft-${uuidv7()}@example.com`;
    const soft = (over = {}) => recipient({ recipient: address, status: '5.2.2', reason: 'mailboxfull', bounce_class: 'soft', ...over });
    const first = await message(address);
    // A delay notice and the final failure of one message count once.
    await ingestor.ingest(rawOf(report({ recipients: [soft({ action: 'delayed', status: '4.2.2' })] })), env(first.verp));
    await ingestor.ingest(rawOf(report({ recipients: [soft()] })), env(first.verp));
    const blocked = await message(address);
    for (const reason of ['blocked', 'badreputation', 'spamdetected'] as const) {
      await ingestor.ingest(rawOf(report({ recipients: [soft({ reason, status: '5.7.1' })] })), env(blocked.verp));
    }
    // Policy blocks must not suppress by the hard rule either.
    await ingestor.ingest(rawOf(report({ recipients: [soft({ reason: 'blocked', bounce_class: 'hard', status: '5.7.1' })] })), env(blocked.verp));
    const second = await message(address);
    await ingestor.ingest(rawOf(report({ recipients: [soft()] })), env(second.verp));
    expect(await suppression(address)).toBeUndefined();
    // Outside the window: an old failure does not count.
    now = new Date(now.getTime() + 8 * 86_400_000);
    const third = await message(address);
    await ingestor.ingest(rawOf(report({ recipients: [soft()] })), env(third.verp));
    expect(await suppression(address)).toBeUndefined();
    const fourth = await message(address);
    const fifth = await message(address);
    await ingestor.ingest(rawOf(report({ recipients: [soft()] })), env(fourth.verp));
    expect(await suppression(address)).toBeUndefined();
    await ingestor.ingest(rawOf(report({ recipients: [soft()] })), env(fifth.verp));
    expect(await suppression(address)).toMatchObject({ source: 'bounce', reason: 'soft-bounces:3' });
  });

  it('records complaints, auto-replies and success DSNs', async () => {
    const c = await message();
    await ingestor.ingest(rawOf(report({ kind: 'feedback-report', agent: 'arf', recipients: [recipient({ recipient: null, action: '', status: '', reason: 'feedback', bounce_class: 'undetermined', feedback_type: 'abuse' })] }, { message_id: c.messageIdHeader })), env(`fbl@${DOMAIN}`));
    expect(await events(c.id)).toEqual(['complained']);
    expect(await status(c.id)).toBe('complained');
    expect(await suppression(c.address)).toMatchObject({ source: 'complaint', reason: 'complaint:abuse' });

    const a = await message();
    await ingestor.ingest(rawOf(report({ kind: 'auto-reply', recipients: [recipient({ recipient: a.address, action: '', reason: 'vacation', bounce_class: 'undetermined' })] })), env(a.verp));
    expect(await events(a.id)).toEqual(['auto_replied']);
    expect(await suppression(a.address)).toBeUndefined();

    const d = await message();
    await ingestor.ingest(rawOf(report({ kind: 'delivery-success-dsn', recipients: [recipient({ recipient: d.address, action: 'delivered', status: '2.0.0', reason: 'delivered', bounce_class: 'undetermined' })] })), env(d.verp));
    expect(await events(d.id)).toEqual(['delivered']);
    expect(await status(d.id)).toBe('delivered');
  });

  it('unsubscribes on mail to the mailto-unsubscribe address, once, and never for a forged one', async () => {
    const m = await message();
    const to = unsubscribeMailto(TEST_SECRET, m.id, DOMAIN);
    const human = (n: number) => rawOf(report({ kind: 'not-bounce', recipients: [], subject: `unsubscribe ${n}` }));
    const out = await ingestor.ingest(human(1), { ...env(to), mailFrom: m.address });
    expect(out).toMatchObject({ correlated: 1, events: 1 });
    await ingestor.ingest(human(2), { ...env(to), mailFrom: m.address });
    expect(await events(m.id)).toEqual(['unsubscribed']);
    expect(await status(m.id)).toBe('unsubscribed');
    expect(await suppression(m.address)).toMatchObject({ source: 'unsubscribe', reason: 'unsubscribed' });

    const other = await message();
    const forged = unsubscribeMailto('another-secret-0123456789abcdef0123456789', other.id, DOMAIN);
    expect(await ingestor.ingest(human(3), env(forged))).toMatchObject({ correlated: 0, events: 0 });
    expect(await events(other.id)).toEqual([]);
  });

  it('keeps a message the parser chokes on, and text Postgres would refuse', async () => {
    const out = await ingestor.ingest(rawOf('THROW'), env(`postmaster@${DOMAIN}`));
    expect(out).toMatchObject({ kind: 'unknown', duplicate: false, correlated: 0 });
    const row = await db().selectFrom('raw_reports').select(['kind', 'parse']).where('id', '=', out.reportId).executeTakeFirstOrThrow();
    expect(row.kind).toBe('unknown');
    expect((row.parse as { error: string }).error).toMatch(/parser threw: parser bug/);

    const m = await message();
    const nasty = rawOf(report({ recipients: [recipient({ recipient: m.address, diagnostic: 'bad\u0000byte \ud800 lone' })], subject: 'x\u0000y' }));
    const stored = await ingestor.ingest(nasty, { ...env(m.verp), mailFrom: 'a\u0000b@example.com' });
    expect(stored.events).toBe(1);
    const [e] = await listMessageEvents(db(), m.id);
    expect((e.data as { diagnostic: string }).diagnostic).toBe('badbyte  lone');
  });

  it('group commit: stores concurrent arrivals together, each once, and applies them right after', async () => {
    const group = createGroupIngestor(t.app, fixtureParser, { sweepMs: 60_000 });
    try {
      const ms = await Promise.all([1, 2, 3, 4, 5].map(() => message()));
      const raws = ms.map((m) => rawOf(report({ recipients: [recipient({ recipient: m.address })] })));
      stepping = true;
      const outs = await Promise.all([...ms, ...ms].map((m, i) => group.ingest(raws[i % 5], env(m.verp))));
      stepping = false;
      // One store statement for all of them (one reading of the clock): arrivals of one turn of
      // the event loop wait for each other, on PGlite too, whose queries never yield.
      const stored = await db().selectFrom('raw_reports').select('received_at').where('id', 'in', outs.map((o) => o.reportId)).execute();
      expect(new Set(stored.map((r) => r.received_at.getTime())).size).toBe(1);
      expect(outs.filter((o) => o.pending)).toHaveLength(5);
      expect(outs.filter((o) => o.duplicate)).toHaveLength(5);
      expect(new Set(outs.map((o) => o.reportId)).size).toBe(5);
      const { allApplied } = await import('../smtp/wait.js');
      await allApplied(db());
      for (const m of ms) expect(await events(m.id)).toEqual(['bounced']);
    } finally {
      await group.stop();
    }
  });

  it('applies a batch naming the same address twice: both messages bounce, one suppression', async () => {
    const address = `twice${Math.random().toString(36).slice(2)}@example.com`;
    const ms = [await message(address), await message(address)];
    const stored = await storeBatch(
      db(),
      t.app,
      await Promise.all(ms.map((m) => prepareReport(rawOf(report({ recipients: [recipient({ recipient: m.address })] }, { message_id: m.messageIdHeader })), env(m.verp), fixtureParser))),
    );
    expect(stored.map((o) => o.pending)).toEqual([true, true]);
    const group = createGroupIngestor(t.app, fixtureParser, { sweepMs: 60_000 });
    const { allApplied } = await import('../smtp/wait.js');
    await allApplied(db());
    await group.stop();
    for (const m of ms) expect(await events(m.id)).toEqual(['bounced']);
    const rows = await db().selectFrom('suppressions').select('event_id').where('tenant_id', '=', tenantId).where('address', '=', address).execute();
    expect(rows).toHaveLength(1);
  });

  it('applies reports stored before a crash when the listener starts again', async () => {
    const m = await message();
    const p = await prepareReport(rawOf(report({ recipients: [recipient({ recipient: m.address })] })), env(m.verp), fixtureParser);
    const [stored] = await storeBatch(db(), t.app, [p]);
    expect(stored.pending).toBe(true);
    expect(await events(m.id)).toEqual([]);
    // The system proof chain takes a report when it is applied, here only after the restart.
    const inSystemChain = async () =>
      (await db().selectFrom('proof_entries').select('report_id').where('chain', '=', 'system').where('report_id', '=', stored.reportId).execute()).length;
    expect(await inSystemChain()).toBe(0);
    const restarted = createGroupIngestor(t.app, fixtureParser, { sweepMs: 60_000 });
    const { allApplied } = await import('../smtp/wait.js');
    await allApplied(db());
    await restarted.stop();
    expect(await events(m.id)).toEqual(['bounced']);
    const row = await db().selectFrom('raw_reports').select(['correlated', 'applied_at']).where('id', '=', stored.reportId).executeTakeFirstOrThrow();
    expect(row.correlated).toBe(true);
    expect(row.applied_at).not.toBeNull();
    expect(await inSystemChain()).toBe(1);
  });

  it('reprocess: records reclassifications and missed facts once, deletes nothing', async () => {
    // The "fixed" parser: hard user-unknown for a soft bounce it used to misread, and a report
    // the old parser choked on.
    const fixed: Parser = {
      version: 'fixture-2',
      parse(raw) {
        const text = raw.toString('utf8');
        const body = text.slice(text.indexOf('\r\n\r\n') + 4);
        if (body.startsWith('THROW{')) return JSON.parse(body.slice(5)) as Report;
        const r = fixtureParser.parse(raw);
        return { ...r, recipients: r.recipients.map((x) => (x.recipient?.startsWith('misread') ? { ...x, reason: 'userunknown', bounce_class: 'hard', status: '5.1.1' } : x)) };
      },
    };
    const a = await message(`misread-${uuidv7()}@example.com`);
    await ingestor.ingest(rawOf(report({ recipients: [recipient({ recipient: a.address, reason: 'mailboxfull', bounce_class: 'soft', status: '5.2.2' })] })), env(a.verp));
    const b = await message();
    const hidden = Buffer.from(`From: x\r\nSubject: f\r\n\r\nTHROW${JSON.stringify(report({ recipients: [recipient({ recipient: b.address })] }))}`);
    expect((await ingestor.ingest(hidden, env(b.verp))).events).toBe(0);
    expect(await suppression(a.address)).toBeUndefined();

    const progress: number[] = [];
    const r = await reprocess(t.app, fixed, { batchSize: 7, onProgress: (p) => progress.push(p.scanned) });
    expect(r).toMatchObject({ changed: 2, events: 2 });
    expect(r.scanned).toBe(r.total);
    expect(progress.at(-1)).toBe(r.total);
    const evA = await listMessageEvents(db(), a.id);
    expect(evA.map((e) => e.type)).toEqual(['bounced', 'reclassified']);
    expect(evA[0].data).toMatchObject({ reason: 'mailboxfull' }); // the original fact is untouched
    expect(evA[1]).toMatchObject({ source: 'reprocess' });
    expect(evA[1].data).toMatchObject({ before: { reason: 'mailboxfull', bounce_class: 'soft' }, after: { reason: 'userunknown', bounce_class: 'hard' }, event_type: 'bounced' });
    expect(await suppression(a.address)).toMatchObject({ reason: 'userunknown' });
    expect((await listMessageEvents(db(), b.id)).map((e) => [e.type, e.source])).toEqual([['bounced', 'reprocess']]);
    expect(await status(b.id)).toBe('bounced');

    const again = await reprocess(t.app, fixed);
    expect(again).toMatchObject({ changed: 0, events: 0 });
    expect(await reprocess(t.app, fixed, { since: new Date(now.getTime() + 60_000) })).toMatchObject({ total: 0, scanned: 0 });

    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } } as never;
    expect(await runReprocess(['--since', 'yesterday-ish'], async () => t.app, io, fixed)).toBe(2);
    expect(err.join('')).toMatch(/is not a date/);
  });

  it('a delay notice after the no-bounce window undoes the guessed delivery and opens the window again', async () => {
    const m = await message();
    const sentAt = new Date(now.getTime() - 20 * 60_000);
    await db().updateTable('messages').set({ sent_at: sentAt, next_attempt_at: now }).where('id', '=', m.id).execute();
    await markDelivered(t.app);
    expect(await status(m.id)).toBe('delivered');
    now = new Date(now.getTime() + 60 * 60_000);
    const delay = report({ recipients: [recipient({ recipient: m.address, action: 'delayed', status: '4.4.1', replycode: '', diagnostic: 'connect to mx.example.com: Connection timed out', reason: 'expired', bounce_class: 'soft' })] });
    expect(await ingestor.ingest(rawOf(delay), env(m.verp))).toMatchObject({ correlated: 1, events: 1 });
    expect(await status(m.id)).toBe('deferred');
    const armed = await db().selectFrom('messages').select('next_attempt_at').where('id', '=', m.id).executeTakeFirstOrThrow();
    expect(armed.next_attempt_at).not.toBeNull();
    // Silence after the delay: delivered again only once the relay would have given up (5 days).
    now = new Date(now.getTime() + 24 * 3_600_000);
    await db().updateTable('messages').set({ next_attempt_at: now }).where('id', '=', m.id).execute();
    await markDelivered(t.app);
    expect(await status(m.id)).toBe('deferred');
    now = new Date(sentAt.getTime() + 5 * 86_400_000 + 60_000);
    await db().updateTable('messages').set({ next_attempt_at: now }).where('id', '=', m.id).execute();
    await markDelivered(t.app);
    expect(await status(m.id)).toBe('delivered');
    const delivered = (await listMessageEvents(db(), m.id)).filter((e) => e.type === 'delivered');
    expect(delivered.map((e) => (e.data as { basis: string }).basis)).toEqual(['no-bounce-window', 'no-bounce-after-delay']);
  });

  it('fails (for the edge to answer 4xx) when the database is unavailable', async () => {
    const broken = await testApp();
    const ing = createIngestor(broken.app, fixtureParser);
    await broken.close();
    await expect(ing.ingest(rawOf(report()), env(`postmaster@${DOMAIN}`))).rejects.toThrow();
  }, 120_000);
});
