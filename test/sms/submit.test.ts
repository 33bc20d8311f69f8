import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, ensureTenant } from '../../src/db/tenants.js';
import { buildHttp } from '../../src/server/http.js';
import { dialect, testApp, type TestApp } from '../support/app.js';

describe(`SMS submission on ${dialect}`, () => {
  let t: TestApp;
  let http: FastifyInstance;
  let key: string;
  let tenantId: string;
  const post = (payload: unknown, headers: Record<string, string> = {}) =>
    http.inject({ method: 'POST', url: '/v1/messages', headers: { authorization: `Bearer ${key}`, ...headers }, payload: payload as object });
  const get = (id: string) => http.inject({ url: `/v1/messages/${id}`, headers: { authorization: `Bearer ${key}` } });

  beforeAll(async () => {
    t = await testApp({ MAILTRAIL_SMS_DEFAULT_REGION: 'FR' });
    tenantId = (await ensureTenant(t.app.database.db, 'sms')).id;
    key = (await createApiKey(t.app.database.db, tenantId)).key;
    http = await buildHttp(t.app);
  });
  afterAll(async () => {
    await http.close();
    await t.close();
  });

  it('queues a valid number in E.164 form, with its encoding and segment count', async () => {
    const r = await post({ channel: 'sms', recipient: '06 12 34 56 78', from: 'Acme', text: 'Votre code: 1234 €', tags: ['otp'] });
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({ status: 'queued', created: true });
    const m = (await get(r.json().id)).json();
    expect(m).toMatchObject({ channel: 'sms', recipient: '+33612345678', from: 'Acme', subject: null, envelope_from: null, tags: ['otp'] });
    expect(m.events).toMatchObject([{ type: 'queued', data: { encoding: 'gsm7', segments: 1 } }]);
    const row = await t.app.database.db.selectFrom('messages').select(['recipient_key', 'content', 'next_attempt_at']).where('id', '=', r.json().id).executeTakeFirstOrThrow();
    expect(row.recipient_key).toBe('+33612345678');
    expect(row.content).toMatchObject({ text: 'Votre code: 1234 €', encoding: 'gsm7', segments: 1, units: 19 });
    expect(row.next_attempt_at).not.toBeNull();
  });

  it.each([
    ['+3361234567', 'invalid'],
    ['+33145678901', 'not_sms_capable'],
    ['call me', 'unparsable'],
  ])('%s is erroneous (%s), nothing queued', async (recipient, problem) => {
    const r = await post({ channel: 'sms', recipient, from: '38000', text: 'hi' });
    expect(r.statusCode).toBe(201);
    expect(r.json().status).toBe('erroneous');
    const m = (await get(r.json().id)).json();
    expect(m.events).toMatchObject([{ type: 'erroneous', data: { problem } }]);
    const row = await t.app.database.db.selectFrom('messages').select('next_attempt_at').where('id', '=', r.json().id).executeTakeFirstOrThrow();
    expect(row.next_attempt_at).toBeNull();
  });

  it('is rejected when the E.164 number is suppressed, whatever form it was given in', async () => {
    await t.app.database.db.insertInto('suppressions').values({ tenant_id: tenantId, address: '+33612345677', reason: 'unsubscribed', source: 'unsubscribe' }).execute();
    const r = await post({ channel: 'sms', recipient: '+33 (0)6 12 34 56 77', from: 'Acme', text: 'promo' });
    expect(r.json().status).toBe('rejected');
    expect((await get(r.json().id)).json().events).toMatchObject([{ type: 'rejected', data: { suppression: { reason: 'unsubscribed' } } }]);
  });

  it('UCS-2 and multi-part texts, templates, idempotency', async () => {
    const a = await post({ channel: 'sms', recipient: '+33612345678', from: 'Acme', template: { text: 'Bonjour {{name}} 😀' }, variables: { name: 'Zoé' } }, { 'idempotency-key': 'k1' });
    const again = await post({ channel: 'sms', recipient: '+33612345678', from: 'Acme', template: { text: 'Bonjour {{name}} 😀' }, variables: { name: 'Zoé' } }, { 'idempotency-key': 'k1' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ id: a.json().id, created: false });
    const row = await t.app.database.db.selectFrom('messages').select('content').where('id', '=', a.json().id).executeTakeFirstOrThrow();
    expect(row.content).toMatchObject({ text: 'Bonjour Zoé 😀', encoding: 'ucs2', segments: 1 });
    const long = await post({ channel: 'sms', recipient: '+33612345678', from: 'Acme', text: 'x'.repeat(400) });
    const longRow = await t.app.database.db.selectFrom('messages').select('content').where('id', '=', long.json().id).executeTakeFirstOrThrow();
    expect(longRow.content).toMatchObject({ encoding: 'gsm7', segments: 3 });
  });

  it.each([
    [{ channel: 'sms', recipient: '+33612345678', from: 'Acme' }, 'text'],
    [{ channel: 'sms', recipient: '+33612345678', from: 'Acme', text: 'a', subject: 'no' }, 'subject'],
    [{ channel: 'sms', recipient: '+33612345678', from: 'TooLongSender1', text: 'a' }, 'from'],
    [{ channel: 'sms', recipient: '+33612345678', from: 'a@b.example', text: 'a' }, 'from'],
    [{ channel: 'sms', recipient: '+33612345678', from: 'Acme', text: 'ж'.repeat(700) }, 'text'],
    [{ channel: 'sms', recipient: '+33612345678', from: 'Acme', template: { text: '{{x}}' } }, 'variables'],
    [{ channel: 'fax', recipient: '+33612345678', from: 'Acme', text: 'a' }, 'channel'],
  ])('request error: %j names %s', async (body, field) => {
    const r = await post(body);
    expect(r.statusCode).toBe(400);
    expect(JSON.stringify(r.json())).toContain(field);
  });

  it('email without channel (and with channel email) still goes the email way', async () => {
    const r = await post({ recipient: 'a@example.com', from: 'x@acme.test', subject: 's', text: 't' });
    const r2 = await post({ channel: 'email', recipient: 'b@example.com', from: 'x@acme.test', subject: 's', text: 't' });
    expect([r.statusCode, r2.statusCode]).toEqual([201, 201]);
    expect((await get(r2.json().id)).json().channel).toBe('email');
  });

  it('stats group_by=channel counts SMS and email apart, as the messages table has them', async () => {
    const r = await http.inject({ url: '/v1/stats?group_by=channel', headers: { authorization: `Bearer ${key}` } });
    expect(r.statusCode).toBe(200);
    const rows = await t.app.database.db.selectFrom('messages').select(['channel', 'status']).where('tenant_id', '=', tenantId).execute();
    const want = (ch: string) => rows.filter((m) => m.channel === ch);
    const groups = r.json().groups as Array<{ key: string; total: number; statuses: Record<string, number> }>;
    expect(groups.map((g) => g.key).sort()).toEqual(['email', 'sms']);
    for (const ch of ['email', 'sms']) {
      const g = groups.find((x) => x.key === ch);
      expect(g?.total).toBe(want(ch).length);
      for (const st of new Set(want(ch).map((m) => m.status))) expect(g?.statuses[st]).toBe(want(ch).filter((m) => m.status === st).length);
    }
    expect(want('sms').length).toBeGreaterThan(0);
  });
});
