import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes } from '../../src/api/register.js';
import type { EventType } from '../../src/core/events.js';
import { connectDatabase } from '../../src/db/connect.js';
import { appendEvents, type NewEvent } from '../../src/db/events.js';
import { createApiKey, ensureTenant } from '../../src/db/tenants.js';
import { createLog } from '../../src/log.js';
import { buildHttp } from '../../src/server/http.js';
import { dialect, testApp, type TestApp } from '../support/app.js';
import { insertMessage } from '../support/messages.js';

describe(`sender API (inject) on ${dialect}`, () => {
  let t: TestApp;
  let http: FastifyInstance;
  let keyA: string;
  let keyB: string;
  let tenantA: string;
  let tenantB: string;
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });
  const get = (url: string, key = keyA) => http.inject({ url, headers: auth(key) });

  async function messageWith(tenantId: string, recipient: string, events: Array<[EventType, Record<string, unknown>?]>, tags: string[] = []) {
    const db = t.app.database.db;
    const id = await insertMessage(db, tenantId, recipient, 'queued');
    if (tags.length) await db.updateTable('messages').set({ tags }).where('id', '=', id).execute();
    const at = Date.parse('2026-01-01T00:00:00Z');
    const evs: NewEvent[] = events.map(([type, data], i) => ({ type, data, occurredAt: new Date(at + i * 1000), source: 'send' }));
    if (evs.length) await db.transaction().execute((trx) => appendEvents(trx, id, evs));
    return id;
  }

  beforeAll(async () => {
    t = await testApp({ MAILTRAIL_REPORTS_TENANT: 'a' });
    const db = t.app.database.db;
    tenantA = (await ensureTenant(db, 'a')).id;
    tenantB = (await ensureTenant(db, 'b')).id;
    keyA = (await createApiKey(db, tenantA)).key;
    keyB = (await createApiKey(db, tenantB)).key;
    http = await buildHttp(t.app);
  });
  afterAll(async () => {
    await http.close();
    await t.close();
  });

  it('POST /v1/messages submits one or a batch, with idempotency, through the send path', async () => {
    const post = (payload: unknown, headers: Record<string, string> = {}) =>
      http.inject({ method: 'POST', url: '/v1/messages', headers: { ...auth(keyA), ...headers }, payload: payload as object });
    const msg = (recipient: string) => ({ recipient, from: 'Acme <news@acme.test>', subject: 'Hello', text: 'Hi there', tags: ['welcome'] });

    const one = await post(msg('Carol@Example.com'));
    expect(one.statusCode).toBe(201);
    expect(one.json()).toMatchObject({ status: 'queued', created: true });
    const shown = (await get(`/v1/messages/${one.json().id}`)).json();
    expect(shown).toMatchObject({ status: 'queued', recipient: 'Carol@example.com', tags: ['welcome'] });
    expect(shown.envelope_from).toMatch(/^b\+[a-z2-7]+@bounces\.test$/);
    expect(shown.message_id_header).toMatch(/^<.+@bounces\.test>$/);
    expect(shown.events.map((e: { type: string }) => e.type)).toEqual(['queued']);

    expect((await post(msg('not-an-address'))).json()).toMatchObject({ status: 'erroneous', created: true });
    await http.inject({ method: 'POST', url: '/v1/suppressions', headers: auth(keyA), payload: { address: 'blocked@example.com' } });
    expect((await post(msg('blocked@example.com'))).json()).toMatchObject({ status: 'rejected' });

    const missing = await post({ recipient: 'x@example.com', from: 'news@acme.test', text: 'no subject' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toMatchObject({ error: 'validation_error', field: 'subject' });

    const again1 = await post(msg('dave@example.com'), { 'idempotency-key': 'order-77' });
    const again2 = await post(msg('dave@example.com'), { 'idempotency-key': 'order-77' });
    expect(again2.statusCode).toBe(200);
    expect(again2.json()).toEqual({ ...again1.json(), created: false });

    const batch = { messages: [msg('e1@example.com'), msg('bad address'), msg('e3@example.com')] };
    const b1 = await post(batch, { 'idempotency-key': 'batch-1' });
    expect(b1.statusCode).toBe(200);
    expect(b1.json().results.map((r: { index: number; status: string }) => [r.index, r.status])).toEqual([
      [0, 'queued'],
      [1, 'erroneous'],
      [2, 'queued'],
    ]);
    const b2 = await post(batch, { 'idempotency-key': 'batch-1' });
    expect(b2.json().results.map((r: { id: string }) => r.id)).toEqual(b1.json().results.map((r: { id: string }) => r.id));
    expect(b2.json().results.every((r: { created: boolean }) => !r.created)).toBe(true);

    const badItem = await post({ messages: [msg('f@example.com'), { ...msg('g@example.com'), from: 'nobody' }] });
    expect(badItem.json()).toMatchObject({ error: 'validation_error', field: 'messages.1.from' });
    const tooMany = await post({ messages: Array.from({ length: 1001 }, () => msg('h@example.com')) });
    expect(tooMany.json()).toMatchObject({ error: 'validation_error', field: 'messages' });
    expect((await post(msg('i@example.com'), { 'idempotency-key': 'has space' })).json()).toMatchObject({ field: 'idempotency-key' });
    const listed = (await get('/v1/messages?recipient=f@example.com')).json().data;
    expect(listed).toHaveLength(0);
  });

  it('GET /v1/messages/:id returns the message and its timeline with per-message sequence', async () => {
    const id = await messageWith(tenantA, 'Bob@Example.com', [['sent'], ['opened', { human: false }]]);
    const res = await get(`/v1/messages/${id}`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ id, status: 'sent', stage: 0, recipient: 'Bob@Example.com', flags: { machine_open: true, machine_click: false } });
    expect(body.events.map((e: { type: string; message_seq: number }) => [e.type, e.message_seq])).toEqual([
      ['sent', 1],
      ['opened', 2],
    ]);
    expect(res.headers['x-request-id']).toBeTruthy();
  });

  it('rejects missing, unknown and revoked keys with 401; hides other tenants’ messages (404)', async () => {
    const id = await insertMessage(t.app.database.db, tenantA);
    expect((await http.inject({ url: `/v1/messages/${id}` })).statusCode).toBe(401);
    expect((await get(`/v1/messages/${id}`, `${keyA}x`)).statusCode).toBe(401);
    const other = await get(`/v1/messages/${id}`, keyB);
    expect(other.statusCode).toBe(404);
    expect(other.json()).toMatchObject({ error: 'not_found', request_id: other.headers['x-request-id'] });

    expect((await http.inject({ method: 'POST', url: '/v1/api-keys', headers: auth(keyB) })).statusCode).toBe(201);
    const created = await http.inject({ method: 'POST', url: '/v1/api-keys', headers: auth(keyA), payload: { label: 'rotation' } });
    expect(created.statusCode).toBe(201);
    const fresh = created.json() as { id: string; key: string };
    expect((await get(`/v1/messages/${id}`, fresh.key)).statusCode).toBe(200);
    expect((await http.inject({ method: 'DELETE', url: `/v1/api-keys/${fresh.id}`, headers: auth(keyB) })).statusCode).toBe(404);
    expect((await http.inject({ method: 'DELETE', url: `/v1/api-keys/${fresh.id}`, headers: auth(keyA) })).statusCode).toBe(204);
    expect((await get(`/v1/messages/${id}`, fresh.key)).statusCode).toBe(401);
    const listed = (await get('/v1/api-keys')).json().data as Array<{ id: string; revoked_at: string | null }>;
    expect(listed.find((k) => k.id === fresh.id)?.revoked_at).toBeTruthy();
    expect(JSON.stringify(listed)).not.toContain(fresh.key);
  });

  it('answers 400 naming the field, 400 JSON on malformed bodies, and 404 JSON for unknown routes', async () => {
    const bad = await get('/v1/messages/not-a-uuid');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'validation_error', field: 'id', request_id: bad.headers['x-request-id'] });
    expect((await get('/v1/messages?limit=0')).json()).toMatchObject({ field: 'limit' });
    expect((await get('/v1/messages?status=nope')).json()).toMatchObject({ field: 'status' });
    expect((await get('/v1/messages?since=yesterday')).json()).toMatchObject({ field: 'since' });
    expect((await get('/v1/messages?cursor=abc')).json()).toMatchObject({ field: 'cursor' });
    const junk = await http.inject({ method: 'POST', url: '/v1/suppressions', headers: { ...auth(keyA), 'content-type': 'application/json' }, payload: '{"address":' });
    expect(junk.statusCode).toBe(400);
    expect(junk.json().request_id).toBe(junk.headers['x-request-id']);
    const nf = await http.inject({ url: '/v1/nothing-here' });
    expect(nf.statusCode).toBe(404);
    expect(nf.json()).toMatchObject({ error: 'not_found', request_id: nf.headers['x-request-id'] });
  });

  it('lists messages newest first with filters and keyset pagination', async () => {
    const db = t.app.database.db;
    const tenant = (await ensureTenant(db, 'lister')).id;
    const key = (await createApiKey(db, tenant)).key;
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) ids.push(await messageWith(tenant, `u${i % 5}@Example.org`, i % 2 ? [['sent']] : [['sent'], ['delivered']], i % 3 ? [] : ['promo']));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: Array<{ id: string }>; next_cursor: string | null } = (await get(`/v1/messages?limit=7${cursor ? `&cursor=${cursor}` : ''}`, key)).json();
      seen.push(...page.data.map((m) => m.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...ids].sort().reverse());
    const delivered = (await get('/v1/messages?status=delivered', key)).json().data;
    expect(delivered).toHaveLength(13);
    expect((await get('/v1/messages?recipient=U1@EXAMPLE.ORG', key)).json().data).toHaveLength(5);
    expect((await get('/v1/messages?tag=promo', key)).json().data).toHaveLength(9);
    expect((await get('/v1/messages?until=2000-01-01', key)).json().data).toHaveLength(0);
    expect((await get(`/v1/messages?since=${new Date(Date.now() - 60_000).toISOString()}`, key)).json().data).toHaveLength(25);
  });

  it('computes stats per status and stage, and rates on the right denominators', async () => {
    const db = t.app.database.db;
    const tenant = (await ensureTenant(db, 'stats')).id;
    const key = (await createApiKey(db, tenant)).key;
    await messageWith(tenant, 'a@one.test', [['sent'], ['delivered']], ['x']);
    await messageWith(tenant, 'b@one.test', [['sent'], ['bounced', { bounce_class: 'hard' }]], ['x']);
    await messageWith(tenant, 'c@one.test', [['sent'], ['bounced', { bounce_class: 'soft' }]]);
    await messageWith(tenant, 'd@two.test', [['sent'], ['delivered'], ['opened']]);
    await messageWith(tenant, 'e@two.test', [['sent'], ['delivered'], ['opened', { human: false }]]);
    await messageWith(tenant, 'f@two.test', [['sent'], ['delivered'], ['clicked']]);
    await messageWith(tenant, 'g@two.test', [['sent'], ['delivered'], ['complained'], ['unsubscribed']]);
    await messageWith(tenant, 'h@two.test', [['sent'], ['delivered'], ['unsubscribed']]);
    await messageWith(tenant, 'i@two.test', [['rejected']]);
    await messageWith(tenant, 'j@two.test', []);
    const all = (await get('/v1/stats', key)).json();
    expect(all.groups).toHaveLength(1);
    const g = all.groups[0];
    expect(g.total).toBe(10);
    expect(g.statuses).toMatchObject({ delivered: 2, bounced: 2, opened: 1, clicked: 1, complained: 1, unsubscribed: 1, rejected: 1, queued: 1 });
    expect(g.stages).toEqual({ 0: 1, 1: 1, 2: 4, 3: 2, 4: 2 });
    expect(g.counts).toEqual({ sent: 8, delivered: 6, hard_bounced: 1, complained: 1, human_opened: 1, clicked: 1, unsubscribed: 2 });
    expect(g.rates).toEqual({ delivery: 0.75, hard_bounce: 0.125, complaint: 0.1667, human_open: 0.1667, click: 0.1667, unsubscribe: 0.3333 });
    const byDomain = (await get('/v1/stats?group_by=domain', key)).json().groups;
    expect(byDomain.map((x: { key: string; total: number }) => [x.key, x.total])).toEqual([
      ['one.test', 3],
      ['two.test', 7],
    ]);
    const byTag = (await get('/v1/stats?group_by=tag', key)).json().groups;
    expect(byTag.find((x: { key: string | null }) => x.key === 'x').total).toBe(2);
    expect(byTag.find((x: { key: string | null }) => x.key === null).total).toBe(8);
    const byDay = (await get('/v1/stats?group_by=day', key)).json().groups;
    expect(byDay).toHaveLength(1);
    expect(byDay[0].key).toBe(new Date().toISOString().slice(0, 10));
    expect((await get('/v1/stats?from=2026-02-01&to=2026-01-01', key)).json()).toMatchObject({ field: 'from' });
  });

  it('manages manual suppressions per tenant', async () => {
    const post = (address: string, key = keyA) =>
      http.inject({ method: 'POST', url: '/v1/suppressions', headers: auth(key), payload: { address, reason: 'customer asked', note: 'ticket 42' } });
    const first = await post('Bob@Example.COM');
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ address: 'bob@example.com', source: 'manual', reason: 'customer asked' });
    expect((await post('bob@example.com')).statusCode).toBe(200);
    expect((await post('+33612345678')).statusCode).toBe(201);
    expect((await post('not an address')).json()).toMatchObject({ error: 'validation_error', field: 'address' });
    expect((await get('/v1/suppressions?address=BOB@example.com')).json().data).toHaveLength(1);
    expect((await get('/v1/suppressions', keyB)).json().data).toHaveLength(0);
    expect((await http.inject({ method: 'DELETE', url: '/v1/suppressions/bob%40example.com', headers: auth(keyB) })).statusCode).toBe(404);
    expect((await http.inject({ method: 'DELETE', url: '/v1/suppressions/bob%40example.com', headers: auth(keyA) })).statusCode).toBe(204);
    expect((await http.inject({ method: 'DELETE', url: '/v1/suppressions/bob%40example.com', headers: auth(keyA) })).statusCode).toBe(404);
  });

  it('lists reports by correlation and serves their raw bytes to the right tenant only', async () => {
    const db = t.app.database.db;
    const add = (sha: string, tenantId: string | null, raw: string | null) =>
      db
        .insertInto('raw_reports')
        .values({
          sha256: sha,
          raw: raw === null ? gzipSync('x') : gzipSync(raw),
          size: 10,
          source: 'smtp',
          envelope: '{}',
          kind: 'bounce',
          correlated: tenantId !== null,
          tenant_id: tenantId,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
    const mine = await add('a'.repeat(64), tenantA, 'From: mta\r\n\r\nbounce for a');
    const orphan = await add('b'.repeat(64), null, 'From: mta\r\n\r\nnobody');
    const theirs = await add('c'.repeat(64), tenantB, 'From: mta\r\n\r\nbounce for b');
    const purged = await add('d'.repeat(64), tenantA, null);
    await db.updateTable('raw_reports').set({ raw: null, purged_at: new Date() }).where('id', '=', purged.id).execute();

    const uncorrelated = (await get('/v1/reports?correlated=false')).json().data.map((r: { id: number }) => r.id);
    expect(uncorrelated).toEqual([orphan.id]);
    expect((await get('/v1/reports?correlated=false', keyB)).json().data).toEqual([]);
    const raw = await get(`/v1/reports/${mine.id}/raw`);
    expect(raw.headers['content-type']).toContain('message/rfc822');
    expect(raw.body).toBe('From: mta\r\n\r\nbounce for a');
    expect((await get(`/v1/reports/${theirs.id}/raw`)).statusCode).toBe(404);
    expect((await get(`/v1/reports/${mine.id}/raw`, keyB)).statusCode).toBe(404);
    expect((await get(`/v1/reports/${purged.id}/raw`)).statusCode).toBe(410);
    expect((await get('/v1/reports/abc/raw')).json()).toMatchObject({ field: 'id' });
  });

  it('manages webhook endpoints: secret shown once, filters validated, rotation, isolation', async () => {
    const create = await http.inject({
      method: 'POST',
      url: '/v1/webhooks',
      headers: auth(keyA),
      payload: { url: 'https://hooks.example.com/hook', event_types: ['bounced', 'complained'] },
    });
    expect(create.statusCode).toBe(201);
    const ep = create.json();
    expect(ep.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(ep).toMatchObject({ enabled: true, event_types: ['bounced', 'complained'] });
    const listed = (await get('/v1/webhooks')).json().data;
    expect(listed).toHaveLength(1);
    expect(listed[0].secret).toBeUndefined();
    expect((await get('/v1/webhooks', keyB)).json().data).toHaveLength(0);
    expect((await get(`/v1/webhooks/${ep.id}`, keyB)).statusCode).toBe(404);
    expect((await get(`/v1/webhooks/${ep.id}`)).json().deliveries).toEqual({ pending: 0, dead: 0 });

    const badUrl = await http.inject({ method: 'POST', url: '/v1/webhooks', headers: auth(keyA), payload: { url: 'ftp://x' } });
    expect(badUrl.json()).toMatchObject({ field: 'url' });
    const badType = await http.inject({ method: 'POST', url: '/v1/webhooks', headers: auth(keyA), payload: { url: 'http://x.test/', event_types: ['nope'] } });
    expect(badType.json()).toMatchObject({ field: 'event_types.0' });

    const byDefault = await http.inject({ method: 'POST', url: `/v1/webhooks/${ep.id}/rotate-secret`, headers: auth(keyA) });
    expect(Date.parse(byDefault.json().previous_secret_expires_at)).toBeGreaterThan(Date.now() + 86_000_000);
    const rotated = await http.inject({ method: 'POST', url: `/v1/webhooks/${ep.id}/rotate-secret`, headers: auth(keyA), payload: { grace_seconds: 3600 } });
    expect(rotated.statusCode).toBe(200);
    expect(rotated.json().secret).not.toBe(ep.secret);
    expect(Date.parse(rotated.json().previous_secret_expires_at)).toBeGreaterThan(Date.now() + 3500_000);
    const patched = await http.inject({ method: 'PATCH', url: `/v1/webhooks/${ep.id}`, headers: auth(keyA), payload: { enabled: false } });
    expect(patched.json()).toMatchObject({ enabled: false });
    expect((await http.inject({ method: 'PATCH', url: `/v1/webhooks/${ep.id}`, headers: auth(keyA), payload: { enabled: true } })).json().enabled).toBe(true);
    for (const [method, url] of [
      ['POST', `/v1/webhooks/${ep.id}/replay`],
      ['POST', `/v1/webhooks/${ep.id}/rotate-secret`],
      ['GET', `/v1/webhooks/${ep.id}/dead-letters`],
      ['PATCH', `/v1/webhooks/${ep.id}`],
    ] as const) {
      const r = await http.inject({ method, url, headers: auth(keyB), ...(method === 'GET' ? {} : { payload: {} }) });
      expect(r.statusCode, `${method} ${url}`).toBe(404);
    }
    expect((await http.inject({ method: 'DELETE', url: `/v1/webhooks/${ep.id}`, headers: auth(keyB) })).statusCode).toBe(404);
    expect((await http.inject({ method: 'DELETE', url: `/v1/webhooks/${ep.id}`, headers: auth(keyA) })).statusCode).toBe(204);
  });

  it('logs each API call with the request id the response carries', async () => {
    const lines: string[] = [];
    const log = createLog('info', { write: (l: string) => void lines.push(l) });
    const logged = await buildHttp({ ...t.app, log });
    try {
      const res = await logged.inject({ url: '/v1/messages?limit=1', headers: auth(keyA) });
      const id = res.headers['x-request-id'];
      const line = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'api request');
      expect(line).toMatchObject({ reqId: id, status: 200, route: '/v1/messages' });
    } finally {
      await logged.close();
    }
  });

  it('answers 500 JSON with the request id, and logs it, when the database is down', async () => {
    const lines: string[] = [];
    // A real connection attempt to a port where nothing listens: what an outage looks like.
    const down = await connectDatabase({ databaseUrl: 'postgres://postgres@127.0.0.1:28998/none', dataDir: 'unused' });
    const broken = await buildHttp({ ...t.app, database: down, log: createLog('info', { write: (l: string) => void lines.push(l) }) });
    try {
      const res = await broken.inject({ url: '/v1/messages', headers: auth(keyA) });
      expect(res.statusCode).toBe(500);
      expect(res.json()).toEqual({ error: 'internal_error', message: 'internal error', request_id: res.headers['x-request-id'] });
      const line = lines.map((l) => JSON.parse(l)).find((l) => l.code === 'MT_ERR_API');
      expect(line?.reqId).toBe(res.headers['x-request-id']);
    } finally {
      await broken.close();
      await down.close();
    }
  });

  it('documents every operation in /openapi.json from the schemas it validates with, and renders /docs', async () => {
    const doc = (await http.inject({ url: '/openapi.json' })).json();
    for (const r of apiRoutes(t.app)) {
      const path = `/v1${r.url.replace(/:([a-z_]+)/g, '{$1}')}`;
      expect(doc.paths[path]?.[r.method.toLowerCase()]?.operationId, `${r.method} ${path}`).toBe(r.operationId);
    }
    expect(doc.paths['/v1/suppressions'].post.requestBody.content['application/json'].schema.required).toContain('address');
    expect(doc.paths['/v1/messages'].get.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['status', 'recipient', 'tag', 'since', 'until', 'cursor', 'limit']),
    );
    const docs = await http.inject({ url: '/docs' });
    expect(docs.headers['content-type']).toContain('text/html');
    expect(docs.body).toContain('/v1/messages/{id}');
    expect(docs.body).not.toMatch(/<script|https?:\/\/(?!127)/);
  });
});
