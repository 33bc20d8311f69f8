import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEvents } from '../../src/db/events.js';
import { createApiKey, ensureTenant } from '../../src/db/tenants.js';
import { runDueTransitions } from '../../src/flows/engine.js';
import { buildHttp } from '../../src/server/http.js';
import { dialect, testApp, type TestApp } from '../support/app.js';

const content = {
  email: { from: 'Acme <news@acme.test>', subject: 'Your invoice', text: 'It is ready.' },
  sms: { from: 'Acme', text: 'Your invoice is ready.' },
};
const cross = { mode: 'cross', steps: [{ channel: 'email', next: { when: 'no_status', statuses: ['opened'], within_ms: 3_600_000 } }, { channel: 'sms' }] };

describe(`notifications API (inject) on ${dialect}`, () => {
  let t: TestApp;
  let http: FastifyInstance;
  let keyA: string;
  let keyB: string;
  let now = new Date('2026-04-01T08:00:00Z');
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });
  const req = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, key = keyA, headers: Record<string, string> = {}) =>
    http.inject({ method, url, headers: { ...auth(key), ...headers }, ...(payload === undefined ? {} : { payload: payload as object }) });

  beforeAll(async () => {
    t = await testApp({}, { now: () => now });
    const db = t.app.database.db;
    keyA = (await createApiKey(db, (await ensureTenant(db, 'a')).id)).key;
    keyB = (await createApiKey(db, (await ensureTenant(db, 'b')).id)).key;
    http = await buildHttp(t.app);
  });
  afterAll(async () => {
    await http.close();
    await t.close();
  });

  it('POST creates (idempotent on Idempotency-Key), GET shows state, steps with messages and the timeline', async () => {
    const body = { recipient: { email: 'pat@example.com', phone: '+33612345678' }, content, flow: cross, metadata: { order: 7 } };
    const first = await req('POST', '/v1/notifications', body, keyA, { 'idempotency-key': 'order-7' });
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ state: 'in_progress', created: true });
    const again = await req('POST', '/v1/notifications', body, keyA, { 'idempotency-key': 'order-7' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ id: first.json().id, created: false });

    const id = first.json().id;
    let shown = (await req('GET', `/v1/notifications/${id}`)).json();
    expect(shown).toMatchObject({ state: 'in_progress', client_key: 'order-7', metadata: { order: 7 }, flow: cross, reached: null });
    expect(shown.steps).toMatchObject([
      { step: 0, channel: 'email', status: 'queued', message: { recipient: 'pat@example.com', channel: 'email' } },
      { step: 1, channel: 'sms', status: null, message: null, due_at: '2026-04-01T09:00:00.000Z' },
    ]);
    expect(shown.timeline.map((e: { kind: string }) => e.kind)).toEqual(['created', 'step_started', 'state']);

    // The email is not opened within the hour: the SMS follows; once delivered, reached by SMS.
    now = new Date('2026-04-01T09:00:01Z');
    await runDueTransitions(t.app);
    shown = (await req('GET', `/v1/notifications/${id}`)).json();
    expect(shown.steps[1]).toMatchObject({ channel: 'sms', status: 'queued', message: { recipient: '+33612345678' } });
    await t.app.database.db.transaction().execute((trx) => appendEvents(trx, shown.steps[1].message.id, [{ type: 'delivered', occurredAt: now, source: 'sms' }]));
    await runDueTransitions(t.app);
    shown = (await req('GET', `/v1/notifications/${id}`)).json();
    expect(shown).toMatchObject({ state: 'reached', reached: { step: 1, channel: 'sms', at: now.toISOString() } });

    expect((await req('GET', `/v1/notifications/${id}`, undefined, keyB)).statusCode).toBe(404);
  });

  it('400 names the field: missing address for a channel, bad content, unknown flow name, bad idempotency key', async () => {
    const r1 = await req('POST', '/v1/notifications', { recipient: { email: 'a@example.com' }, content, flow: cross });
    expect(r1.statusCode).toBe(400);
    expect(r1.json()).toMatchObject({ error: 'validation_error', field: 'recipient.phone' });
    const r2 = await req('POST', '/v1/notifications', { recipient: { email: 'a@example.com' }, content: { email: { from: 'x@acme.test', text: 'hi' } }, flow: { mode: 'multi', channels: ['email'] } });
    expect(r2.json()).toMatchObject({ field: 'content.email.subject' });
    const r3 = await req('POST', '/v1/notifications', { recipient: { email: 'a@example.com' }, content, flow_name: 'nope' });
    expect(r3.json()).toMatchObject({ field: 'flow_name' });
    const r4 = await req('POST', '/v1/notifications', { recipient: { email: 'a@example.com' }, content, flow: { mode: 'cross', steps: [{ channel: 'fax' }] } });
    expect(r4.json()).toMatchObject({ field: 'flow.steps.0.channel' });
    const r5 = await req('POST', '/v1/notifications', { recipient: { email: 'a@example.com' }, content, flow: cross }, keyA, { 'idempotency-key': 'has space' });
    expect(r5.json()).toMatchObject({ field: 'idempotency-key' });
  });

  it('flow definitions: versions, latest by default, a pinned version, retire', async () => {
    const v1 = await req('POST', '/v1/flows', { name: 'invoice', flow: { mode: 'multi', channels: ['email'] } });
    expect(v1.statusCode).toBe(201);
    expect(v1.json()).toMatchObject({ name: 'invoice', version: 1 });
    expect((await req('POST', '/v1/flows', { name: 'invoice', flow: cross })).json()).toMatchObject({ version: 2 });
    expect((await req('GET', '/v1/flows')).json().data).toMatchObject([{ name: 'invoice', version: 2 }]);
    expect((await req('GET', '/v1/flows/invoice')).json().versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    expect((await req('GET', '/v1/flows', undefined, keyB)).json().data).toEqual([]);

    const recipient = { email: 'lee@example.com', phone: '+33612345679' };
    const latest = (await req('POST', '/v1/notifications', { recipient, content, flow_name: 'invoice' })).json();
    expect((await req('GET', `/v1/notifications/${latest.id}`)).json()).toMatchObject({ flow_name: 'invoice', flow_version: 2, flow: cross });
    const pinned = (await req('POST', '/v1/notifications', { recipient, content, flow_name: 'invoice', flow_version: 1 })).json();
    expect((await req('GET', `/v1/notifications/${pinned.id}`)).json()).toMatchObject({ flow_version: 1, flow: { mode: 'multi' } });

    expect((await req('DELETE', '/v1/flows/invoice')).statusCode).toBe(204);
    expect((await req('DELETE', '/v1/flows/invoice')).statusCode).toBe(404);
    expect((await req('GET', '/v1/flows')).json().data).toEqual([]);
    expect((await req('POST', '/v1/notifications', { recipient, content, flow_name: 'invoice' })).json()).toMatchObject({ field: 'flow_name' });
    expect((await req('POST', '/v1/notifications', { recipient, content, flow_name: 'invoice', flow_version: 2 })).statusCode).toBe(201);
  });

  it('cancel (POST or DELETE), list by state with keyset pagination, stats by flow and step', async () => {
    const recipient = { email: 'kim@example.com', phone: '+33612345670' };
    const ids: string[] = [];
    // A second apart: ids are time-ordered, and this test's clock stands still otherwise.
    for (let i = 0; i < 3; i++) {
      now = new Date(now.getTime() + 1000);
      ids.push((await req('POST', '/v1/notifications', { recipient, content, flow: cross })).json().id);
    }
    expect((await req('POST', `/v1/notifications/${ids[0]}/cancel`)).json()).toEqual({ id: ids[0], state: 'stopped' });
    expect((await req('DELETE', `/v1/notifications/${ids[1]}`)).json()).toEqual({ id: ids[1], state: 'stopped' });
    expect((await req('DELETE', `/v1/notifications/${ids[1]}`, undefined, keyB)).statusCode).toBe(404);

    const stopped = (await req('GET', '/v1/notifications?state=stopped&limit=1')).json();
    expect(stopped.data.map((n: { id: string }) => n.id)).toEqual([ids[1]]);
    const next = (await req('GET', `/v1/notifications?state=stopped&limit=1&cursor=${stopped.next_cursor}`)).json();
    expect(next.data.map((n: { id: string }) => n.id)).toEqual([ids[0]]);
    expect(next.next_cursor).toBeNull();

    const stats = (await req('GET', '/v1/notifications/stats')).json().data;
    const inline = stats.find((s: { flow_name: string | null }) => s.flow_name === null);
    expect(inline).toMatchObject({ reached_at_step: { 1: 1 }, never: 2 });
    expect(inline.total).toBe(inline.never + inline.open + 1);
    expect(stats.find((s: { flow_name: string | null }) => s.flow_name === 'invoice')).toMatchObject({ total: 3 });
  });

  it('the OpenAPI document lists the notification and flow operations', async () => {
    const doc = (await http.inject({ url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/notifications', '/v1/notifications/{id}', '/v1/notifications/{id}/cancel', '/v1/notifications/stats', '/v1/flows', '/v1/flows/{name}']));
  });
});
