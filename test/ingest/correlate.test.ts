import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageIdHeader, signToken, taggedId, verpAddress } from '../../src/core/tokens.js';
import { listMessageEvents } from '../../src/db/events.js';
import { ensureTenant } from '../../src/db/tenants.js';
import { createIngestor, type Ingestor } from '../../src/ingest/ingest.js';
import type { InboundEnvelope, Parser } from '../../src/ingest/types.js';
import { parse } from '../../src/parsers/index.js';
import type { Report } from '../../src/parsers/report.js';
import { submitMessage } from '../../src/send/submit.js';
import { dialect, testApp, TEST_SECRET, type TestApp } from '../support/app.js';
import { fixtureParser, rawOf, recipient, report } from './fixtures.js';

const DOMAIN = 'bounces.test';
const OTHER_SECRET = 'another-secret-0123456789abcdef0123456789';

interface Sent {
  id: string;
  address: string;
  verp: string;
  /** The Message-ID header as it went out. */
  header: string;
}

/** Flips the last character of a token-bearing value: a forgery one letter off the genuine one. */
const tamper = (v: string, at = v.length - 1) => `${v.slice(0, at)}${v[at] === 'a' ? 'b' : 'a'}${v.slice(at + 1)}`;

/**
 * What a forger can write into a report for each correlation step. He knows the victim's address
 * and UUID (API answers, webhooks and tracking links carry it) and every id of a message sent to
 * himself (`mine`), which he can replay naming the victim.
 */
const FORGERIES: Array<[string, (victim: Sent, mine: Sent) => { report: Report; rcptTo: string }]> = [
  ['VERP, tampered token', (v) => ({ report: bounceFor(v.address), rcptTo: tamper(v.verp, v.verp.indexOf('@') - 1) })],
  ['VERP, another secret', (v) => ({ report: bounceFor(v.address), rcptTo: verpAddress(OTHER_SECRET, v.id, DOMAIN) })],
  ['VERP, replayed: my own, naming the victim', (v, m) => ({ report: bounceFor(v.address), rcptTo: m.verp })],
  ['Message-ID, bare <uuid@domain> naming the victim', (v) => ({ report: bounceFor(v.address, { message_id: `<${v.id}@${DOMAIN}>` }), rcptTo: POSTMASTER })],
  ['Message-ID, bare <uuid@domain> naming a stranger', (v) => ({ report: bounceFor('stranger@elsewhere.test', { message_id: `<${v.id}@${DOMAIN}>` }), rcptTo: POSTMASTER })],
  ['Message-ID, tampered tag', (v) => ({ report: bounceFor(v.address, { message_id: `<${tamper(taggedId(TEST_SECRET, v.id))}@${DOMAIN}>` }), rcptTo: POSTMASTER })],
  ['Message-ID, another secret', (v) => ({ report: bounceFor(v.address, { message_id: messageIdHeader(OTHER_SECRET, v.id, DOMAIN) }), rcptTo: POSTMASTER })],
  ['Message-ID, replayed: mine, naming the victim', (v, m) => ({ report: bounceFor(v.address, { message_id: m.header }), rcptTo: POSTMASTER })],
  [
    'Message-ID, bare, ARF with the recipient redacted',
    (v) => ({
      report: report({ kind: 'feedback-report', agent: 'arf', recipients: [recipient({ recipient: null, action: '', status: '', reason: 'feedback', bounce_class: 'undetermined', feedback_type: 'abuse' })] }, { message_id: `<${v.id}@${DOMAIN}>` }),
      rcptTo: `fbl@${DOMAIN}`,
    }),
  ],
  ['Return-Path, tampered VERP', (v) => ({ report: bounceFor(v.address, { envelope_from: `<${tamper(v.verp, v.verp.indexOf('@') - 1)}>` }), rcptTo: POSTMASTER })],
  ['Return-Path, replayed: mine, naming the victim', (v, m) => ({ report: bounceFor(v.address, { envelope_from: `<${m.verp}>` }), rcptTo: POSTMASTER })],
  ['ENVID, bare uuid naming the victim', (v) => ({ report: bounceFor(v.address, { original_envelope_id: v.id }), rcptTo: POSTMASTER })],
  ['ENVID, tampered tag', (v) => ({ report: bounceFor(v.address, { original_envelope_id: tamper(taggedId(TEST_SECRET, v.id)) }), rcptTo: POSTMASTER })],
  ['ENVID, replayed: my tagged id, naming the victim', (v, m) => ({ report: bounceFor(v.address, { original_envelope_id: taggedId(TEST_SECRET, m.id) }), rcptTo: POSTMASTER })],
  ['ENVID, replayed: my VERP token, naming the victim', (v, m) => ({ report: bounceFor(v.address, { original_envelope_id: signToken(TEST_SECRET, 'verp', m.id) }), rcptTo: POSTMASTER })],
  ['X-Mailtrail-Id, bare uuid naming the victim', (v) => ({ report: bounceFor(v.address, { mailtrail_id: v.id }), rcptTo: POSTMASTER })],
  ['X-Mailtrail-Id, tampered tag', (v) => ({ report: bounceFor(v.address, { mailtrail_id: tamper(taggedId(TEST_SECRET, v.id)) }), rcptTo: POSTMASTER })],
  ['X-Mailtrail-Id, replayed: mine, naming the victim', (v, m) => ({ report: bounceFor(v.address, { mailtrail_id: taggedId(TEST_SECRET, m.id) }), rcptTo: POSTMASTER })],
];

const POSTMASTER = `postmaster@${DOMAIN}`;

function bounceFor(address: string, original: Partial<Report['original']> = {}): Report {
  return report({ recipients: [recipient({ recipient: address, diagnostic: `550 5.1.1 <${address}>: Recipient address rejected: User unknown` })] }, original);
}

/** A real RFC 3464 DSN listing `count` recipients, `own` (if any) among them. */
function bigDsn(to: string, own: string | null, count: number): Buffer {
  const groups: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = own && i === Math.floor(count / 2) ? own : `someone${i}@example.org`;
    groups.push(`Final-Recipient: rfc822; ${r}\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\r\n`);
  }
  return Buffer.from(
    `From: MAILER-DAEMON@mx.example.org\r\nTo: ${to}\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-Id: <${Math.random().toString(36).slice(2)}@mx.example.org>\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n` +
      `--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n` +
      `Reporting-MTA: dns; mx.example.org\r\n\r\n${groups.join('\r\n')}\r\n--b--\r\n`,
  );
}

describe(`correlation against forged and replayed reports on ${dialect}`, () => {
  let t: TestApp;
  let tenantId: string;
  let ingestor: Ingestor;
  let n = 0;

  beforeAll(async () => {
    t = await testApp();
    tenantId = (await ensureTenant(t.app.database.db, 'acme')).id;
    ingestor = createIngestor(t.app, fixtureParser);
  }, 120_000);
  afterAll(() => t?.close());

  const db = () => t.app.database.db;
  const env = (...rcptTo: string[]): InboundEnvelope => ({ source: 'smtp', mailFrom: '', rcptTo, remoteAddress: '127.0.0.1' });
  /** A message as the API creates it: its VERP and Message-ID are the ones submit writes. */
  async function submit(address: string): Promise<Sent> {
    const r = await submitMessage(t.app, tenantId, { recipient: address, from: 'news@acme.test', subject: 'Hi', text: 'Hello' });
    if (!r.ok) throw new Error('submit failed');
    const row = await db().selectFrom('messages').select(['envelope_from', 'message_id_header']).where('id', '=', r.id).executeTakeFirstOrThrow();
    return { id: r.id, address, verp: row.envelope_from!, header: row.message_id_header! };
  }
  const events = async (id: string) => (await listMessageEvents(db(), id)).map((e) => e.type);
  const suppressed = async (address: string) =>
    (await db().selectFrom('suppressions').select('id').where('tenant_id', '=', tenantId).where('address', '=', address).executeTakeFirst()) !== undefined;

  it.each(FORGERIES)('%s: neither bounces nor suppresses the victim', async (_name, forge) => {
    n++;
    const victim = await submit(`victim${n}@example.com`);
    const mine = await submit(`forger${n}@evil.example`);
    const f = forge(victim, mine);
    await ingestor.ingest(rawOf(f.report), env(f.rcptTo));
    expect(await events(victim.id)).toEqual(['queued']);
    expect(await suppressed(victim.address)).toBe(false);
    // A replay of my own ids names the victim: my message gets no event about someone else.
    expect(await events(mine.id)).toEqual(['queued']);
  });

  it('still attaches genuine reports by every signed id, each to its own recipient', async () => {
    const steps: Array<(m: Sent) => { report: Report; rcptTo: string }> = [
      (m) => ({ report: bounceFor(m.address), rcptTo: m.verp }),
      (m) => ({ report: bounceFor(m.address, { message_id: m.header }), rcptTo: POSTMASTER }),
      (m) => ({ report: bounceFor(m.address, { envelope_from: `<${m.verp}>` }), rcptTo: POSTMASTER }),
      (m) => ({ report: bounceFor(m.address, { original_envelope_id: taggedId(TEST_SECRET, m.id).toUpperCase() }), rcptTo: POSTMASTER }),
      (m) => ({ report: bounceFor(m.address, { mailtrail_id: taggedId(TEST_SECRET, m.id) }), rcptTo: POSTMASTER }),
    ];
    for (const [i, step] of steps.entries()) {
      const m = await submit(`Genuine${i}@Example.com`);
      const f = step(m);
      const out = await ingestor.ingest(rawOf(f.report), env(f.rcptTo));
      expect(out, `step ${i}`).toMatchObject({ correlated: 1, events: 1 });
      expect(await events(m.id)).toEqual(['queued', 'bounced']);
      expect(await suppressed(m.address.toLowerCase())).toBe(true);
    }
    // A feedback loop that redacts the recipient still complains through our tagged Message-ID.
    const c = await submit('complainer@example.com');
    const arf = report({ kind: 'feedback-report', agent: 'arf', recipients: [recipient({ recipient: null, action: '', status: '', reason: 'feedback', bounce_class: 'undetermined', feedback_type: 'abuse' })] }, { message_id: c.header });
    await ingestor.ingest(rawOf(arf), env(`fbl@${DOMAIN}`));
    expect(await events(c.id)).toEqual(['queued', 'complained']);
  });

  it('accepts the bare ids of a message sent before ids were tagged only when the report names its recipient', async () => {
    const old = await submit('old-timer@example.com');
    await db().updateTable('messages').set({ message_id_header: `<${old.id}@${DOMAIN}>` }).where('id', '=', old.id).execute();
    for (const original of [{ message_id: `<${old.id}@${DOMAIN}>` }, { original_envelope_id: old.id }, { mailtrail_id: old.id }]) {
      const forged = await ingestor.ingest(rawOf(bounceFor('stranger@elsewhere.test', original)), env(POSTMASTER));
      expect(forged).toMatchObject({ correlated: 0, events: 0 });
    }
    expect(await events(old.id)).toEqual(['queued']);
    const genuine = await ingestor.ingest(rawOf(bounceFor(old.address, { mailtrail_id: old.id })), env(POSTMASTER));
    expect(genuine).toMatchObject({ correlated: 1, events: 1 });
  });

  it('a report listing 5,000 recipients yields one event, for the message’s own recipient', async () => {
    const real = createIngestor(t.app, { version: 'test', parse: (raw) => parse(raw) } satisfies Parser);
    const m = await submit('one-of-many@example.com');
    const out = await real.ingest(bigDsn(m.verp, m.address, 5_000), env(m.verp));
    expect(out).toMatchObject({ kind: 'bounce', correlated: 1, events: 1 });
    const [, bounced] = await listMessageEvents(db(), m.id);
    expect(bounced.data).toMatchObject({ recipient: m.address, reason: 'userunknown' });
    // The others are kept as evidence in the stored parse, not as events.
    const row = await db().selectFrom('raw_reports').select('parse').where('id', '=', out.reportId).executeTakeFirstOrThrow();
    expect((row.parse as unknown as Report).recipients).toHaveLength(5_000);

    // Not one of them is this message's recipient: no event at all.
    const other = await submit('not-listed@example.com');
    const none = await real.ingest(bigDsn(other.verp, null, 5_000), env(other.verp));
    expect(none).toMatchObject({ correlated: 1, events: 0 });
    expect(await events(other.id)).toEqual(['queued']);
    expect(await suppressed(other.address)).toBe(false);
  }, 60_000);
});
