import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEvents } from '../../src/db/events.js';
import { createApiKey, ensureTenant } from '../../src/db/tenants.js';
import { buildHttp } from '../../src/server/http.js';
import { dialect, testApp, type TestApp } from '../support/app.js';
import { insertMessage } from '../support/messages.js';

describe(`sender API (inject) on ${dialect}`, () => {
  let t: TestApp;
  let http: FastifyInstance;
  let keyA: string;
  let keyB: string;
  let tenantA: string;
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });

  beforeAll(async () => {
    t = await testApp();
    const db = t.app.database.db;
    tenantA = (await ensureTenant(db, 'a')).id;
    const tenantB = (await ensureTenant(db, 'b')).id;
    keyA = (await createApiKey(db, tenantA)).key;
    keyB = (await createApiKey(db, tenantB)).key;
    http = await buildHttp(t.app);
  });
  afterAll(async () => {
    await http.close();
    await t.close();
  });

  it('GET /v1/messages/:id returns the message and its timeline with per-message sequence', async () => {
    const db = t.app.database.db;
    const id = await insertMessage(db, tenantA, 'Bob@Example.com');
    const at = new Date('2026-01-01T00:00:00Z');
    await db.transaction().execute((trx) =>
      appendEvents(trx, id, [
        { type: 'sent', occurredAt: at, source: 'send' },
        { type: 'opened', occurredAt: new Date(at.getTime() + 1000), source: 'tracking', data: { human: false } },
      ]),
    );
    const res = await http.inject({ url: `/v1/messages/${id}`, headers: auth(keyA) });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ id, status: 'sent', stage: 0, recipient: 'Bob@Example.com', flags: { machine_open: true, machine_click: false } });
    expect(body.events.map((e: { type: string; message_seq: number }) => [e.type, e.message_seq])).toEqual([
      ['sent', 1],
      ['opened', 2],
    ]);
    expect(res.headers['x-request-id']).toBeTruthy();
  });

  it('rejects missing and unknown keys with 401, and hides other tenants’ messages (404)', async () => {
    const id = await insertMessage(t.app.database.db, tenantA);
    expect((await http.inject({ url: `/v1/messages/${id}` })).statusCode).toBe(401);
    expect((await http.inject({ url: `/v1/messages/${id}`, headers: auth(`${keyA}x`) })).statusCode).toBe(401);
    const other = await http.inject({ url: `/v1/messages/${id}`, headers: auth(keyB) });
    expect(other.statusCode).toBe(404);
    expect(other.json()).toMatchObject({ error: 'not_found', request_id: other.headers['x-request-id'] });
  });

  it('answers 400 naming the field, and 404 JSON for unknown routes', async () => {
    const bad = await http.inject({ url: '/v1/messages/not-a-uuid', headers: auth(keyA) });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'validation_error', field: 'id' });
    const badQ = await http.inject({ url: '/v1/messages?limit=0&status=nope', headers: auth(keyA) });
    expect(badQ.statusCode).toBe(400);
    expect(['limit', 'status']).toContain(badQ.json().field);
    const nf = await http.inject({ url: '/v1/nothing-here' });
    expect(nf.statusCode).toBe(404);
    expect(nf.json()).toMatchObject({ error: 'not_found', request_id: nf.headers['x-request-id'] });
  });

  it('serves /openapi.json and /docs', async () => {
    const doc = (await http.inject({ url: '/openapi.json' })).json();
    expect(doc.paths['/v1/messages/{id}'].get.operationId).toBe('getMessage');
    const docs = await http.inject({ url: '/docs' });
    expect(docs.headers['content-type']).toContain('text/html');
    expect(docs.body).toContain('/v1/messages/{id}');
  });
});
