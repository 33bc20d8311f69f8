import { createHash, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { listMessageEvents } from '../../src/db/events.js';
import { ensureTenant } from '../../src/db/tenants.js';
import type { Bundle } from '../../src/proof/bundle.js';
import { checkChain } from '../../src/proof/check.js';
import { checkOpening, saltedHash } from '../../src/proof/commitments.js';
import { exportBundle } from '../../src/proof/export.js';
import { verifyBundle } from '../../src/proof/verify.js';
import { sendDue } from '../../src/send/send-job.js';
import { submitMessage } from '../../src/send/submit.js';
import { dialect, testApp, type TestApp } from '../support/app.js';
import { startRelay, type Relay } from '../send/relay.js';

const KEY_PEM = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

describe(`commitments of what was handed to the relay, on ${dialect}`, () => {
  let t: TestApp;
  let app: App;
  let relay: Relay;
  let tenantId: string;
  const worker = new AbortController();
  const dkimKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

  beforeAll(async () => {
    relay = await startRelay();
    t = await testApp({
      MAILTRAIL_SMTP_RELAY_URL: `smtp://127.0.0.1:${relay.port}`,
      MAILTRAIL_PUBLIC_URL: 'https://track.test',
      MAILTRAIL_DKIM_DOMAIN: 'mail.test',
      MAILTRAIL_DKIM_SELECTOR: 's2026',
      MAILTRAIL_DKIM_PRIVATE_KEY: dkimKey,
      MAILTRAIL_PROOF_PRIVATE_KEY: KEY_PEM,
    });
    app = t.app;
    tenantId = (await ensureTenant(app.database.db, 'commit')).id;
  });
  afterAll(async () => {
    worker.abort();
    await relay?.close();
    await t?.close();
  });

  const sentEvent = async (id: string) => (await listMessageEvents(app.database.db, id)).find((e) => e.type === 'sent');
  const saltOfMessage = async (id: string) =>
    (await app.database.db.selectFrom('proof_salts').select('salt').where('message_id', '=', id).executeTakeFirstOrThrow()).salt;

  it('binds the exact DKIM-signed bytes the relay received, and the parties as salted hashes only', async () => {
    const recipient = 'Jane.Commit@Example.test';
    const r = await submitMessage(app, tenantId, { recipient, from: 'Acme <news@acme.test>', subject: 'Your invoice', text: 'Hello Jane' });
    if (!r.ok) throw new Error('not submitted');
    await sendDue(app, worker.signal);
    const got = relay.received.find((x) => x.raw.toString('latin1').includes(r.id));
    if (!got) throw new Error('the relay received nothing');
    expect(got.raw.toString('latin1')).toMatch(/^DKIM-Signature:/m);

    const c = (await sentEvent(r.id))?.data.commitment as Record<string, unknown>;
    expect(c).toMatchObject({ format: 'mailtrail-commitment/1', channel: 'email', bytes_size: got.raw.length, template_version_id: null, variables: null });
    // The relay's copy, not a recomposition: the DKIM signature's timestamp makes every compose differ.
    expect(c.bytes_sha256).toBe(createHash('sha256').update(got.raw).digest('hex'));

    const salt = await saltOfMessage(r.id);
    expect(salt).toMatch(/^[0-9a-f]{64}$/);
    // The address as it was sent (the domain normalised at submission), as the relay saw it.
    const sentTo = got.rcptTo[0];
    expect(sentTo.toLowerCase()).toBe(recipient.toLowerCase());
    expect(c.recipient).toBe(saltedHash(salt, 'recipient', sentTo));
    expect(checkOpening(c, { message_id: r.id, salt, values: { recipient: sentTo, sender: 'news@acme.test', subject: 'Your invoice' } })).toEqual([]);
    expect(checkOpening(c, { message_id: r.id, salt, values: { recipient: 'someone.else@example.test' } })).toEqual([
      'recipient: the value given is not the one committed',
    ]);
    expect(checkOpening(c, { message_id: r.id, salt: 'ab'.repeat(32), values: { subject: 'Your invoice' } })).toHaveLength(1);

    // The sent event, commitment included, is in the chain; the bundle holds no party in clear.
    const bundle = await exportBundle(app, tenantId, { messageId: r.id });
    expect(verifyBundle(bundle, { trustedKeyPem: KEY_PEM }).problems).toEqual([]);
    const text = JSON.stringify(bundle).toLowerCase();
    for (const clear of [recipient.toLowerCase(), 'news@acme.test', 'your invoice']) expect(text).not.toContain(clear);
    expect((await checkChain(app, tenantId)).problems).toEqual([]);

    // Opened for the person concerned: the bundle carries salt and values, and they match.
    const opened = await exportBundle(app, tenantId, { messageId: r.id, open: true });
    expect(opened.openings?.[0]).toMatchObject({ message_id: r.id, salt, values: { recipient: sentTo, sender: 'news@acme.test', subject: 'Your invoice' } });
    const ok = verifyBundle(opened, { trustedKeyPem: KEY_PEM });
    expect(ok.problems).toEqual([]);
    expect(ok.notes.join('\n')).toMatch(/recipient, sender, subject opened and match/);
    const lie = JSON.parse(JSON.stringify(opened)) as Bundle;
    if (lie.openings) lie.openings[0].values.recipient = 'someone.else@example.test';
    expect(verifyBundle(lie, { trustedKeyPem: KEY_PEM }).problems.map((p) => p.problem)).toEqual([expect.stringMatching(/recipient: the value given is not the one committed/)]);

    // A changed commitment breaks its entry.
    const forged = JSON.parse(JSON.stringify(bundle)) as Bundle;
    const entry = forged.segments.flatMap((s) => s.entries).find((e) => (e.content as { type?: string } | undefined)?.type === 'sent');
    (entry?.content as { data: { commitment: { bytes_sha256: string } } }).data.commitment.bytes_sha256 = '0'.repeat(64);
    expect(verifyBundle(forged, { trustedKeyPem: KEY_PEM }).problems.map((p) => p.problem).join('\n')).toMatch(/content does not match its hash/);
  });

  it('keeps one salt per message across attempts, and a refusal before DATA commits no content', async () => {
    relay.answers.set('greylist-commit', { code: 451, message: '4.7.1 try later' });
    const r = await submitMessage(app, tenantId, { recipient: 'greylist-commit@example.test', from: 'news@acme.test', subject: 'S', text: 'T' });
    if (!r.ok) throw new Error('not submitted');
    await sendDue(app, worker.signal);
    const deferred = (await listMessageEvents(app.database.db, r.id)).find((e) => e.type === 'deferred');
    expect(deferred?.data.commitment).toBeUndefined();
    const salt = await saltOfMessage(r.id);
    relay.answers.delete('greylist-commit');
    await app.database.db.updateTable('messages').set({ next_attempt_at: new Date(0) }).where('id', '=', r.id).execute();
    await sendDue(app, worker.signal);
    const c = (await sentEvent(r.id))?.data.commitment as Record<string, unknown>;
    expect(await saltOfMessage(r.id)).toBe(salt);
    expect(c.recipient).toBe(saltedHash(salt, 'recipient', 'greylist-commit@example.test'));
  });
});
