import { generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { simpleParser } from 'mailparser';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App, Clock } from '../../src/app.js';
import { parseTaggedId, parseUnsubscribeMailto, parseVerpAddress } from '../../src/core/tokens.js';
import { appendEvents, listMessageEvents } from '../../src/db/events.js';
import { ensureTenant } from '../../src/db/tenants.js';
import { markDelivered } from '../../src/send/delivered-job.js';
import { sendDue } from '../../src/send/send-job.js';
import { submitMessage } from '../../src/send/submit.js';
import { buildHttp } from '../../src/server/http.js';
import { startWorker } from '../../src/server/worker.js';
import { processHits } from '../../src/tracking/hits-job.js';
import { dialect, testApp, type TestApp } from '../support/app.js';
import { startRelay, type Relay } from './relay.js';

/** Wall time shifted by `offset`: retries, the delivered-after window and hit timing without sleeping. */
class ShiftedClock implements Clock {
  offset = 0;
  now() {
    return new Date(Date.now() + this.offset);
  }
}

const MIN = 60_000;
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';

describe(`sending through a real SMTP relay on ${dialect}`, () => {
  let t: TestApp;
  let app: App;
  let relay: Relay;
  let http: FastifyInstance;
  let base: string;
  let tenantId: string;
  const clock = new ShiftedClock();
  const worker = new AbortController();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dkimTxt = `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;

  beforeAll(async () => {
    relay = await startRelay();
    t = await testApp(
      {
        MAILTRAIL_SMTP_RELAY_URL: `smtp://127.0.0.1:${relay.port}`,
        MAILTRAIL_PUBLIC_URL: 'https://track.test',
        MAILTRAIL_TRACKING_SETTLE: '0s',
        MAILTRAIL_SEND_MAX_AGE: '2h',
        MAILTRAIL_DKIM_DOMAIN: 'mail.test',
        MAILTRAIL_DKIM_SELECTOR: 's2026',
        MAILTRAIL_DKIM_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      },
      clock,
    );
    app = t.app;
    tenantId = (await ensureTenant(app.database.db, 'acme')).id;
    http = await buildHttp(app);
    await http.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(http.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    worker.abort();
    await http?.close();
    await relay?.close();
    await t?.close();
  });

  const submit = (recipient: string, extra: Record<string, unknown> = {}) =>
    submitMessage(app, tenantId, { recipient, from: 'Acme News <news@acme.test>', subject: 'Hello', text: 'Hi there', ...extra });
  const message = (id: string) => app.database.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const types = async (id: string) => (await listMessageEvents(app.database.db, id)).map((e) => e.type);
  const receivedFor = (id: string) => relay.received.filter((r) => r.raw.toString('latin1').toLowerCase().includes(`x-mailtrail-id: ${id}`));
  /** The tracking URL as the recipient's client would fetch it, against our listening server. */
  const local = (url: string) => `${base}${new URL(url).pathname}`;

  it('records a bad address as erroneous with its reason, and never sends it', async () => {
    const r = await submit('jane@localhost');
    expect(r).toMatchObject({ ok: true, status: 'erroneous', created: true });
    if (!r.ok) return;
    const [e] = await listMessageEvents(app.database.db, r.id);
    expect(e.type).toBe('erroneous');
    expect(e.data).toMatchObject({ problem: 'domain_no_dot' });
    expect((await message(r.id)).next_attempt_at).toBeNull();
    await sendDue(app, worker.signal);
    expect(receivedFor(r.id)).toHaveLength(0);
  });

  it('refuses invalid input as issues, not as a message', async () => {
    const r = await submitMessage(app, tenantId, { recipient: 'a@b.test', from: 'not an address', subject: 'x' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.map((i) => i.path.join('.'))).toEqual(expect.arrayContaining(['from', 'html']));
    const tpl = await submitMessage(app, tenantId, { recipient: 'a@b.test', from: 'x@acme.test', template: { subject: 'Hi {{name}}', text: 'x' } });
    expect(tpl.ok).toBe(false);
  });

  it('is idempotent on the client key, also under concurrent submissions', async () => {
    const results = await Promise.all([1, 2, 3, 4].map(() => submit('idem@example.test', { client_key: 'order-42' })));
    const ids = new Set(results.map((r) => (r.ok ? r.id : 'failed')));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.ok && r.created)).toHaveLength(1);
    const again = await submitMessage(app, tenantId, { recipient: 'other@example.test', from: 'x@acme.test', subject: 'y', text: 'z' }, 'order-42');
    expect(again).toMatchObject({ ok: true, created: false, id: [...ids][0] });
    const n = await app.database.db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).where('client_key', '=', 'order-42').executeTakeFirstOrThrow();
    expect(Number(n.n)).toBe(1);
  });

  it('sends end to end: VERP, DKIM, List-Unsubscribe, tracked links and pixel; then open, click and one-click unsubscribe', async () => {
    const r = await submitMessage(app, tenantId, {
      recipient: 'Jane.Doe@Example.test',
      from: 'Acme News <news@acme.test>',
      template: {
        subject: 'Your order {{order}}',
        html: '<html><body><p>Hello {{name}}</p><a href="https://shop.example/orders/{{order}}?a=1&amp;b=2">order</a> <a href="mailto:help@acme.test">help</a></body></html>',
        text: 'Hello {{name}}, see https://shop.example/orders/{{order}}?a=1&b=2.',
      },
      variables: { name: '<Jane>', order: 42 },
      metadata: { crm: 'c-1' },
      tags: ['orders'],
    });
    expect(r).toMatchObject({ ok: true, status: 'queued' });
    if (!r.ok) return;
    expect(await sendDue(app, worker.signal)).toBeGreaterThanOrEqual(1);
    const [got] = receivedFor(r.id);
    expect(got).toBeDefined();

    // Envelope: signed VERP return path naming this message, DSN asked for, delay notices too.
    expect(parseVerpAddress(app.secret, got.mailFrom, ['bounces.test'])).toBe(r.id);
    expect(got.rcptTo).toEqual(['Jane.Doe@example.test']);
    expect(parseTaggedId(app.secret, got.envid ?? '')).toBe(r.id);
    expect(got.notify).toEqual(['SUCCESS', 'FAILURE', 'DELAY']);

    // DKIM verifies against the published key, and covers both RFC 8058 headers.
    const dkim = await dkimVerify(got.raw, {
      resolver: async (name: string, type: string) => {
        if (name === 's2026._domainkey.mail.test' && type === 'TXT') return [[dkimTxt]];
        throw Object.assign(new Error('no such record'), { code: 'ENOTFOUND' });
      },
    });
    expect(dkim.results[0]?.status.result).toBe('pass');
    const signed = /;\s*h=([^;]+);/.exec(got.raw.toString('latin1').replace(/\r\n\s+/g, ''))?.[1].toLowerCase().split(':') ?? [];
    expect(signed).toEqual(expect.arrayContaining(['list-unsubscribe', 'list-unsubscribe-post', 'from', 'subject']));

    const mail = await simpleParser(got.raw);
    const msg = await message(r.id);
    expect(mail.messageId).toBe(msg.message_id_header);
    // Both ids carry the HMAC tag: a report quoting them proves it saw this message.
    expect(parseTaggedId(app.secret, mail.messageId ?? '')).toBe(r.id);
    expect(parseTaggedId(app.secret, String(mail.headers.get('x-mailtrail-id')))).toBe(r.id);
    expect(mail.subject).toBe('Your order 42');
    expect(mail.headerLines.find((h) => h.key === 'list-unsubscribe-post')?.line).toBe('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    const listUnsub = mail.headerLines.find((h) => h.key === 'list-unsubscribe')?.line ?? '';
    const https = /<(https:\/\/track\.test\/u\/[^>]+)>/.exec(listUnsub)?.[1];
    const mailto = /<mailto:([^?>]+)/.exec(listUnsub)?.[1];
    expect(https).toBeDefined();
    expect(parseUnsubscribeMailto(app.secret, mailto ?? '', ['bounces.test'])).toBe(r.id);

    // Every http(s) link is a signed click URL; mailto is left alone; the pixel is there; variables escaped.
    const html = String(mail.html);
    expect(html).toContain('&lt;Jane&gt;');
    expect(html).not.toContain('https://shop.example');
    expect(html).toContain('mailto:help@acme.test');
    const clickUrls = [...html.matchAll(/href="(https:\/\/track\.test\/c\/[^"]+)"/g)].map((m) => m[1]);
    expect(clickUrls).toHaveLength(1);
    const pixel = /<img src="(https:\/\/track\.test\/o\/[^"]+)"/.exec(html)?.[1];
    expect(pixel).toBeDefined();
    expect(mail.text).toMatch(/see https:\/\/track\.test\/c\/\S+\.$/m);
    expect(msg.status).toBe('sent');
    expect(msg.sent_at).not.toBeNull();

    // The recipient reads it half an hour later, in a browser.
    clock.offset += 30 * MIN;
    const gif = await fetch(local(pixel as string), { headers: { 'user-agent': BROWSER } });
    expect(gif.status).toBe(200);
    expect(gif.headers.get('content-type')).toBe('image/gif');
    expect(gif.headers.get('cache-control')).toContain('no-store');
    expect((await gif.arrayBuffer()).byteLength).toBe(43);
    const click = await fetch(local(clickUrls[0]), { redirect: 'manual', headers: { 'user-agent': BROWSER } });
    expect(click.status).toBe(302);
    expect(click.headers.get('location')).toBe('https://shop.example/orders/42?a=1&b=2');
    expect(await processHits(app)).toBe(2);
    const timeline = await listMessageEvents(app.database.db, r.id);
    const clicked = timeline.find((e) => e.type === 'clicked');
    expect(clicked?.data).toMatchObject({ human: true, label: 'human', url: 'https://shop.example/orders/42?a=1&b=2' });
    expect((await message(r.id)).status).toBe('clicked');

    // A GET of the unsubscribe page changes nothing; the RFC 8058 POST does, with no redirect.
    const pageRes = await fetch(local(https as string));
    expect(pageRes.status).toBe(200);
    expect(await pageRes.text()).toContain('<form method="post"');
    expect((await message(r.id)).status).toBe('clicked');
    const post = await fetch(local(https as string), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(post.status).toBe(200);
    expect(post.headers.get('location')).toBeNull();
    const after = await message(r.id);
    expect(after.status).toBe('unsubscribed');
    expect(after).toMatchObject({ human_opens: 1, human_clicks: 1, machine_opens: 0 });
    const sup = await app.database.db.selectFrom('suppressions').selectAll().where('tenant_id', '=', tenantId).where('address', '=', 'jane.doe@example.test').executeTakeFirst();
    expect(sup).toMatchObject({ reason: 'unsubscribed', source: 'unsubscribe' });

    // A second POST records nothing new; a new message to that address is rejected, naming the suppression.
    await fetch(local(https as string), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect((await types(r.id)).filter((x) => x === 'unsubscribed')).toHaveLength(1);
    const second = await submit('jane.doe@EXAMPLE.test');
    expect(second).toMatchObject({ ok: true, status: 'rejected' });
    if (second.ok) {
      const [e] = await listMessageEvents(app.database.db, second.id);
      expect(e.data).toMatchObject({ suppression: { id: sup?.id, reason: 'unsubscribed' } });
    }
    await sendDue(app, worker.signal);
    expect(relay.received.filter((x) => x.rcptTo[0].toLowerCase() === 'jane.doe@example.test')).toHaveLength(1);
  });

  it('leaves tracking out when the message turns it off', async () => {
    const r = await submit('quiet@example.test', { text: undefined, html: '<p><a href="https://x.example/">x</a></p>', tracking: { open: false, click: false } });
    if (!r.ok) throw new Error('submit failed');
    await sendDue(app, worker.signal);
    const mail = await simpleParser(receivedFor(r.id)[0].raw);
    expect(String(mail.html)).toContain('href="https://x.example/"');
    expect(String(mail.html)).not.toContain('/o/');
    expect(mail.headerLines.find((h) => h.key === 'list-unsubscribe-post')?.line).toBe('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
  });

  it('marks a sent message delivered after the no-bounce window, and an asynchronous bounce still wins', async () => {
    const r = await submit('quiet-window@example.test');
    if (!r.ok) throw new Error('submit failed');
    await sendDue(app, worker.signal);
    await markDelivered(app);
    expect((await message(r.id)).status).toBe('sent');
    clock.offset += 16 * MIN;
    await markDelivered(app);
    const msg = await message(r.id);
    expect(msg.status).toBe('delivered');
    expect(msg.next_attempt_at).toBeNull();
    await app.database.db.transaction().execute((trx) =>
      appendEvents(trx, r.id, [{ type: 'bounced', occurredAt: clock.now(), source: 'smtp', data: { bounce_class: 'hard', reason: 'userunknown' } }]),
    );
    expect((await message(r.id)).status).toBe('bounced');
  });

  it('turns a 5xx from the relay into a synchronous hard bounce that suppresses the address', async () => {
    relay.answers.set('unknown', { code: 550, message: '5.1.1 <unknown-user@example.test>: Recipient address rejected: User unknown in local recipient table' });
    const r = await submit('unknown-user@example.test');
    if (!r.ok) throw new Error('submit failed');
    await sendDue(app, worker.signal);
    const msg = await message(r.id);
    expect(msg.status).toBe('bounced');
    expect(msg.next_attempt_at).toBeNull();
    const e = (await listMessageEvents(app.database.db, r.id)).find((x) => x.type === 'bounced');
    expect(e?.data).toMatchObject({ synchronous: true, bounce_class: 'hard', reason: 'userunknown', replycode: '550', status: '5.1.1' });
    const sup = await app.database.db.selectFrom('suppressions').select('reason').where('address', '=', 'unknown-user@example.test').executeTakeFirst();
    expect(sup?.reason).toBe('userunknown');
  });

  it('refuses a quoted local part the mail library would rewrite, and sends the accepted ones exactly as stored', async () => {
    for (const recipient of ['"x>,<victim@evil.example"@example.net', '"a\\"b"@example.net', '" padded"@example.net', '"a,b"@example.net']) {
      const r = await submit(recipient);
      expect(r.ok, recipient).toBe(false);
      if (!r.ok) expect(r.issues.map((i) => i.path.join('.'))).toEqual(['recipient']);
    }
    // Quotes that change nothing are dropped: stored, keyed and sent as the plain address.
    const plain = await submit('"quoted.plain"@example.test');
    if (!plain.ok) throw new Error('submit failed');
    await sendDue(app, worker.signal);
    expect((await message(plain.id)).recipient).toBe('quoted.plain@example.test');
    expect(receivedFor(plain.id).map((got) => got.rcptTo)).toEqual([['quoted.plain@example.test']]);
  });

  it('never suppresses an address over a syntax answer to our own envelope', async () => {
    relay.answers.set('syntax-victim', { code: 501, message: '5.1.3 Bad recipient address syntax' });
    const r = await submit('syntax-victim@example.test');
    if (!r.ok) throw new Error('submit failed');
    await sendDue(app, worker.signal);
    const e = (await listMessageEvents(app.database.db, r.id)).find((x) => x.type === 'bounced');
    expect(e?.data).toMatchObject({ synchronous: true, reason: 'syntaxerror', replycode: '501' });
    expect(await app.database.db.selectFrom('suppressions').select('id').where('address', '=', 'syntax-victim@example.test').executeTakeFirst()).toBeUndefined();
    relay.answers.delete('syntax-victim');
    // The relay's own parser (smtp-server) refuses a quoted local part with a space: 501, our envelope.
    const spaced = await submit('"quoted spaced"@example.test');
    if (!spaced.ok) throw new Error('submit failed');
    await sendDue(app, worker.signal);
    expect(await message(spaced.id)).toMatchObject({ recipient: '"quoted spaced"@example.test', status: 'bounced' });
    expect(await app.database.db.selectFrom('suppressions').select('id').where('address', '=', '"quoted spaced"@example.test').executeTakeFirst()).toBeUndefined();
  });

  it('defers on a 4xx and retries after the backoff until the relay takes it', async () => {
    relay.answers.set('greylisted', { code: 451, message: '4.7.1 Greylisted, try again later' });
    const r = await submit('greylisted@example.test');
    if (!r.ok) throw new Error('submit failed');
    await sendDue(app, worker.signal);
    let msg = await message(r.id);
    expect(msg.status).toBe('deferred');
    expect(msg.next_attempt_at!.getTime()).toBeGreaterThan(clock.now().getTime());
    expect(msg.last_error).toContain('451');
    await sendDue(app, worker.signal); // not due yet
    expect((await message(r.id)).attempts).toBe(1);
    relay.answers.delete('greylisted');
    clock.offset += 2 * MIN;
    await sendDue(app, worker.signal);
    msg = await message(r.id);
    expect(msg.status).toBe('sent');
    expect(await types(r.id)).toEqual(['queued', 'deferred', 'sent']);
    const deferred = (await listMessageEvents(app.database.db, r.id))[1];
    expect(deferred.data).toMatchObject({ bounce_class: 'soft', replycode: '451' });
  });

  it('defers while the relay is down, and bounces as expired after the max age', async () => {
    const port = relay.port;
    await relay.close();
    try {
      const r = await submit('patient@example.test');
      if (!r.ok) throw new Error('submit failed');
      await sendDue(app, worker.signal);
      expect((await message(r.id)).status).toBe('deferred');
      const [, deferred] = await listMessageEvents(app.database.db, r.id);
      expect(deferred.data).toMatchObject({ reason: 'networkerror', bounce_class: 'soft' });
      // No suppression for our own network trouble.
      expect(await app.database.db.selectFrom('suppressions').select('id').where('address', '=', 'patient@example.test').executeTakeFirst()).toBeUndefined();
      clock.offset += 3 * 60 * MIN;
      await sendDue(app, worker.signal);
      const msg = await message(r.id);
      expect(msg.status).toBe('bounced');
      expect(msg.next_attempt_at).toBeNull();
      const last = (await listMessageEvents(app.database.db, r.id)).at(-1);
      expect(last?.data).toMatchObject({ reason: 'expired', last_reason: 'networkerror' });
    } finally {
      const again = await startRelay(port);
      relay.received = again.received;
      relay.answers = again.answers;
      relay.close = again.close;
    }
  });

  it('never sends a message twice with several workers taking from the queue at once', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 24; i++) {
      const r = await submit(`crowd${i}@example.test`);
      if (r.ok) ids.push(r.id);
    }
    await Promise.all([1, 2, 3, 4].map(() => sendDue(app, worker.signal)));
    while ((await sendDue(app, worker.signal)) > 0);
    for (const id of ids) expect(receivedFor(id)).toHaveLength(1);
    const statuses = await app.database.db.selectFrom('messages').select('status').where('id', 'in', ids).execute();
    expect(statuses.every((s) => s.status === 'sent')).toBe(true);
  });

  it('does not send a queued message whose address was suppressed meanwhile', async () => {
    const r = await submit('late-complainer@example.test');
    if (!r.ok) throw new Error('submit failed');
    await app.database.db.insertInto('suppressions').values({ tenant_id: tenantId, address: 'late-complainer@example.test', reason: 'complaint:abuse', source: 'complaint' }).execute();
    await sendDue(app, worker.signal);
    expect(receivedFor(r.id)).toHaveLength(0);
    expect((await message(r.id)).status).toBe('rejected');
  });
  it('is sent by the worker role on its own, like `serve` runs it', async () => {
    const r = await submit('by-worker@example.test');
    if (!r.ok) throw new Error('submit failed');
    const running = startWorker(app);
    try {
      const deadline = Date.now() + 20_000;
      while ((await message(r.id)).status !== 'sent' && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    } finally {
      await running.stop();
    }
    expect((await message(r.id)).status).toBe('sent');
    expect(receivedFor(r.id)).toHaveLength(1);
  });
});
