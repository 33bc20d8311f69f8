import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, ensureTenant } from '../../src/db/tenants.js';
import { buildHttp } from '../../src/server/http.js';
import { dialect, testApp, type TestApp } from '../support/app.js';

describe(`templates API on ${dialect}`, () => {
  let t: TestApp;
  let http: FastifyInstance;
  let author: string;
  let approver: string;
  beforeAll(async () => {
    t = await testApp();
    const db = t.app.database.db;
    const tenant = (await ensureTenant(db, 'acme')).id;
    author = (await createApiKey(db, tenant, 'agent')).key;
    approver = (await createApiKey(db, tenant, 'manager')).key;
    http = await buildHttp(t.app);
  });
  afterAll(async () => {
    await http.close();
    await t.close();
  });
  const call = (key: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    http.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload ? { payload } : {}) });

  const variables = [
    { name: 'name', type: 'text', required: true },
    { name: 'rate', type: 'number', required: true },
    { name: 'extra', type: 'paragraphs', required: false, paragraphs: [{ key: 'late', text: 'A late fee applies.' }] },
    { name: 'note', type: 'free_text', required: false },
  ];
  const content = {
    subject: 'Your offer, {{ name }}',
    html: '<p>Hello {{ name }}: {{ rate }}% off</p>{% for p in extra %}<p>{{ p }}</p>{% endfor %}{% if note %}<p>{{ note }}</p>{% endif %}',
    text: 'Hello {{ name }}: {{ rate }}% off',
    variables,
  };
  const send = (key: string, template: object) => call(key, 'POST', '/v1/messages', { recipient: 'ann@example.com', from: 'shop@acme.test', template });

  it('create, preview, approval by someone else than the author, activation, then send by key', async () => {
    const created = await call(author, 'POST', '/v1/templates', { key: 'offer', name: 'Offer', content });
    expect(created.statusCode).toBe(201);
    expect(created.json().version).toMatchObject({ version: 1, state: 'draft' });

    const preview = await call(author, 'POST', '/v1/templates/offer/preview', { variables: { name: '<Ann>', rate: 10 } });
    expect(preview.json()).toMatchObject({ ok: true, subject: 'Your offer, <Ann>', html: '<p>Hello &lt;Ann&gt;: 10% off</p>', text: 'Hello <Ann>: 10% off' });
    const missing = await call(author, 'POST', '/v1/templates/offer/preview', { variables: { rate: 'x' } });
    expect(missing.json()).toMatchObject({ ok: false, problems: [{ variable: 'name', message: 'required' }, { variable: 'rate', message: 'must be a number' }] });

    // Not approved yet: cannot be sent.
    const early = await send(author, { key: 'offer', variables: { name: 'Ann', rate: 10 } });
    expect(early.statusCode).toBe(400);
    expect(early.json()).toMatchObject({ field: 'template.key' });

    expect((await call(author, 'POST', '/v1/templates/offer/versions/1/submit', {})).json()).toMatchObject({ state: 'pending' });
    const self = await call(author, 'POST', '/v1/templates/offer/versions/1/approve', {});
    expect(self.statusCode).toBe(403);
    expect(self.json().message).toBe('the author of a version cannot approve or reject it');
    const mine = (await call(approver, 'GET', '/v1/approvals')).json();
    expect(mine.versions).toMatchObject([{ key: 'offer', version: 1, step: 1 }]);
    expect((await call(approver, 'POST', '/v1/templates/offer/versions/1/approve', { comment: 'ok' })).json()).toMatchObject({ state: 'approved' });
    expect((await call(approver, 'POST', '/v1/templates/offer/versions/1/activate', {})).json()).toMatchObject({ state: 'active' });

    const bad = await send(author, { key: 'offer', variables: { name: 'Ann', rate: 'ten' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ field: 'template.variables.rate', message: 'template.variables.rate: rate: must be a number' });
    const typo = await send(author, { key: 'offer', variables: { name: 'Ann', rate: 5, raet: 5 } });
    expect(typo.json()).toMatchObject({ field: 'template.variables.raet' });

    const ok = await send(author, { key: 'offer', variables: { name: 'Ann', rate: 15, extra: ['late'] } });
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).toMatchObject({ status: 'queued' });
    const row = await t.app.database.db.selectFrom('messages').select(['subject', 'content']).where('id', '=', ok.json().id).executeTakeFirstOrThrow();
    expect(row.subject).toBe('Your offer, Ann');
    expect(row.content).toMatchObject({ html: '<p>Hello Ann: 15% off</p><p>A late fee applies.</p>', template: { key: 'offer', version: 1, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    const shown = (await call(author, 'GET', `/v1/messages/${ok.json().id}`)).json();
    expect(shown.events[0]).toMatchObject({ type: 'queued', data: { template: { key: 'offer', version: 1 } } });

    // Editing the active version makes version 2; sending still uses version 1 until 2 is active.
    const v2 = await call(author, 'POST', '/v1/templates/offer/draft', { ...content, subject: 'New offer, {{ name }}' });
    expect(v2.json()).toMatchObject({ created: true, version: { version: 2, state: 'draft' } });
    const again = await send(author, { key: 'offer', variables: { name: 'Bo', rate: 1 } });
    const r2 = await t.app.database.db.selectFrom('messages').select('subject').where('id', '=', again.json().id).executeTakeFirstOrThrow();
    expect(r2.subject).toBe('Your offer, Bo');
    const audit = (await call(author, 'GET', '/v1/templates/offer/audit')).json();
    expect(audit.data.map((a: { action: string }) => a.action)).toContain('version.approve');
  });

  it('a message with text the agent wrote waits in pending_approval until someone else releases or rejects it', async () => {
    const held = await send(author, { key: 'offer', variables: { name: 'Ann', rate: 15, note: 'I added this paragraph myself.' } });
    expect(held.statusCode).toBe(201);
    expect(held.json()).toMatchObject({ status: 'pending_approval' });
    const id = held.json().id;
    const queue = (await call(approver, 'GET', '/v1/approvals')).json();
    expect(queue.messages.map((m: { message_id: string }) => m.message_id)).toContain(id);
    const released = await call(approver, 'POST', `/v1/approvals/messages/${id}/release`, {});
    expect(released.json()).toMatchObject({ status: 'queued' });
    expect((await call(approver, 'POST', `/v1/approvals/messages/${id}/release`, {})).statusCode).toBe(409);
    const shown = (await call(author, 'GET', `/v1/messages/${id}`)).json();
    expect(shown.status).toBe('queued');
    expect(shown.events.map((e: { type: string }) => e.type)).toEqual(['pending_approval', 'queued']);

    const held2 = (await send(author, { key: 'offer', variables: { name: 'Cy', rate: 1, note: 'Free text.' } })).json().id;
    expect((await call(approver, 'POST', `/v1/approvals/messages/${held2}/reject`, {})).statusCode).toBe(400);
    expect((await call(approver, 'POST', `/v1/approvals/messages/${held2}/reject`, { comment: 'off tone' })).json()).toMatchObject({ status: 'rejected' });
    const m2 = (await call(author, 'GET', `/v1/messages/${held2}`)).json();
    expect(m2.status).toBe('rejected');
    expect(m2.events[1]).toMatchObject({ type: 'rejected', data: { reason: 'off tone', approval: { decision: 'reject' } } });
    const row = await t.app.database.db.selectFrom('messages').select('next_attempt_at').where('id', '=', held2).executeTakeFirstOrThrow();
    expect(row.next_attempt_at).toBeNull();
  });

  it('with the tenant setting off, a draft can be sent by version id', async () => {
    const d = (await call(author, 'POST', '/v1/templates', { key: 'loose', name: 'L', content: { subject: 'S', text: 'T {{ x }}' } })).json();
    const refused = await send(author, { version_id: d.version.id, variables: { x: 1 } });
    expect(refused.statusCode).toBe(400);
    expect((await call(author, 'PATCH', '/v1/template-settings', { require_approved: false, default_policy: { steps: [{}] } })).statusCode).toBe(200);
    const sent = await send(author, { version_id: d.version.id, variables: { x: 1 } });
    expect(sent.statusCode).toBe(201);
    await call(author, 'PATCH', '/v1/template-settings', { require_approved: true, default_policy: { steps: [{}] } });
  });

  it('1,000 templated messages in one batch submission', async () => {
    const messages = Array.from({ length: 1000 }, (_, i) => ({ recipient: `u${i}@example.com`, from: 'shop@acme.test', template: { key: 'offer', variables: { name: `N${i}`, rate: i } } }));
    const r = await http.inject({ method: 'POST', url: '/v1/messages', headers: { authorization: `Bearer ${author}` }, payload: { messages } });
    expect(r.statusCode).toBe(200);
    const results = r.json().results as Array<{ status: string }>;
    expect(results.filter((x) => x.status === 'queued')).toHaveLength(1000);
    const last = await t.app.database.db.selectFrom('messages').select('subject').where('recipient', '=', 'u999@example.com').executeTakeFirstOrThrow();
    expect(last.subject).toBe('Your offer, N999');
  }, 240_000);
});
