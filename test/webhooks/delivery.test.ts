import { createHmac } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { uuidv7 } from '../../src/core/ids.js';
import { appendEvents } from '../../src/db/events.js';
import { createApiKey, ensureTenant } from '../../src/db/tenants.js';
import { buildHttp } from '../../src/server/http.js';
import { startWorker } from '../../src/server/worker.js';
import { deliverDueWebhooks, purgeDeliveredWebhooks, webhookDeliveryJob } from '../../src/webhooks/deliver.js';
import { refuseWebhookUrl } from '../../src/webhooks/safe-request.js';
import { signWebhook, verifyWebhook } from '../../src/webhooks/signature.js';
import { dialect, testApp, type TestApp } from '../support/app.js';
import { insertMessage } from '../support/messages.js';
import { Receiver, until } from './receiver.js';

/** Whether this host's name resolves to 127.0.0.1 only (it does in /etc/hosts on most machines). */
async function loopbackName(): Promise<boolean> {
  const all = await lookup(hostname(), { all: true }).catch(() => []);
  return all.length > 0 && all.every((a) => a.address === '127.0.0.1');
}

type Body = { type: string; data: { event_id: string; message_seq: number; type: string; message: { id: string } } };

describe(`webhooks on ${dialect}`, () => {
  let t: TestApp;
  let http: FastifyInstance;

  beforeAll(async () => {
    t = await testApp({
      MAILTRAIL_WEBHOOK_RETRY_SCHEDULE: '100ms,200ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms',
      MAILTRAIL_WEBHOOK_TIMEOUT: '2s',
      // The receivers listen on loopback, which webhooks refuse unless the operator allows it.
      MAILTRAIL_WEBHOOK_ALLOW_PRIVATE: '127.0.0.1/32',
    });
    http = await buildHttp(t.app);
  });
  afterAll(async () => {
    await http.close();
    await t.close();
  });

  async function tenantWithEndpoint(name: string, url: string, eventTypes: string[] = []) {
    const db = t.app.database.db;
    const tenant = await ensureTenant(db, name);
    const key = (await createApiKey(db, tenant.id)).key;
    const res = await http.inject({
      method: 'POST',
      url: '/v1/webhooks',
      headers: { authorization: `Bearer ${key}` },
      payload: { url, event_types: eventTypes },
    });
    expect(res.statusCode).toBe(201);
    const ep = res.json() as { id: string; secret: string };
    return { tenantId: tenant.id, key, endpointId: ep.id, secret: ep.secret };
  }

  const append = (messageId: string, type: 'sent' | 'delivered' | 'opened' | 'clicked' | 'bounced', data?: Record<string, unknown>) =>
    t.app.database.db.transaction().execute((trx) => appendEvents(trx, messageId, [{ type, occurredAt: new Date(), source: 'send', data }]));

  it('signs like the Standard Webhooks reference test vector, and verifies only genuine, fresh deliveries', () => {
    // Test vector of the specification's reference libraries.
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const body = '{"test": 2432232314}';
    expect(signWebhook([secret], 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body)).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': '1700000000', 'webhook-signature': signWebhook(['whsec_bmV3', secret], 'msg_1', 1700000000, body) };
    expect(verifyWebhook(secret, headers, body, 1700000010)).toBe(true);
    expect(verifyWebhook('whsec_bmV3', headers, body, 1700000010)).toBe(true);
    expect(verifyWebhook('whsec_b3RoZXI=', headers, body, 1700000010)).toBe(false);
    expect(verifyWebhook(secret, headers, `${body} `, 1700000010)).toBe(false);
    expect(verifyWebhook(secret, headers, body, 1700000000 + 301)).toBe(false);
    expect(verifyWebhook(secret, { ...headers, 'webhook-signature': 'v1,' }, body, 1700000010)).toBe(false);
    expect(verifyWebhook(secret, { ...headers, 'webhook-timestamp': 'x' }, body, 1700000010)).toBe(false);
  });

  it('writes the outbox in the event transaction, per subscribed type, with the per-message sequence', async () => {
    const db = t.app.database.db;
    const { tenantId, endpointId } = await tenantWithEndpoint('outbox', 'http://127.0.0.1:28119/none', ['bounced', 'opened']);
    const quiet = await ensureTenant(db, 'no-endpoints');
    const id = await insertMessage(db, tenantId);
    await append(id, 'sent');
    await append(id, 'opened');
    await append(id, 'bounced', { bounce_class: 'hard' });
    const rows = await db.selectFrom('webhook_outbox').selectAll().where('endpoint_id', '=', endpointId).orderBy('id').execute();
    expect(rows.map((r) => [r.event_type, r.message_seq])).toEqual([
      ['opened', 2],
      ['bounced', 3],
    ]);
    const body = JSON.parse(rows[1].payload) as Body;
    expect(body).toMatchObject({ type: 'message.bounced', data: { event_id: rows[1].event_id, message_seq: 3, message: { id } } });

    // A rolled-back event leaves no delivery behind.
    await expect(
      db.transaction().execute(async (trx) => {
        await appendEvents(trx, id, [{ type: 'opened', occurredAt: new Date(), source: 'tracking' }]);
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    expect(await db.selectFrom('webhook_outbox').select('id').where('endpoint_id', '=', endpointId).execute()).toHaveLength(2);

    const other = await insertMessage(db, quiet.id);
    await append(other, 'opened');
    expect(await db.selectFrom('webhook_outbox').select('id').where('tenant_id', '=', quiet.id).execute()).toHaveLength(0);
    await db.deleteFrom('webhook_endpoints').where('id', '=', endpointId).execute();
  });

  it('delivers every event, in order per message, once a failing receiver recovers; signatures verify', async () => {
    const receiver = new Receiver(28111);
    await receiver.start();
    const { tenantId, secret } = await tenantWithEndpoint('recovering', receiver.url);
    const db = t.app.database.db;
    let failuresLeft = 12;
    receiver.answer = () => (failuresLeft-- > 0 ? 503 : 200);
    const worker = startWorker(t.app, [{ ...webhookDeliveryJob, intervalMs: 50 }]);
    try {
      const ids = await Promise.all(Array.from({ length: 4 }, () => insertMessage(db, tenantId)));
      const steps = ['sent', 'delivered', 'opened', 'clicked'] as const;
      for (const step of steps) for (const id of ids) await append(id, step);
      // Also down for a while: connection refused, then back.
      await until(() => failuresLeft < 0, 30_000, 'the receiver to have failed 12 times');
      await receiver.stop();
      await new Promise((r) => setTimeout(r, 500));
      await receiver.start();
      await until(() => new Set(receiver.delivered<Body>().map((b) => b.data.event_id)).size === 16, 60_000, '16 events delivered');

      for (const r of receiver.requests) {
        expect(verifyWebhook(secret, r.headers as Record<string, string>, r.body)).toBe(true);
        expect(r.headers['webhook-id']).toBe((JSON.parse(r.body) as Body).data.event_id);
      }
      // In order per message: a request for seq n+1 only after seq n was answered 2xx.
      for (const id of ids) {
        const attempts = receiver.requests.map((r) => ({ r, b: JSON.parse(r.body) as Body })).filter((x) => x.b.data.message.id === id);
        let done = 0;
        for (const { r, b } of attempts) {
          expect(b.data.message_seq).toBe(done + 1);
          if (r.status < 300) done = b.data.message_seq;
        }
        expect(done).toBe(4);
        expect(attempts.filter((x) => x.r.status < 300).map((x) => x.b.type)).toEqual(steps.map((s) => `message.${s}`));
      }
      await until(async () => {
        const left = await db.selectFrom('webhook_outbox').select('id').where('tenant_id', '=', tenantId).where('state', '!=', 'delivered').execute();
        return left.length === 0;
      }, 10_000, 'outbox rows marked delivered');
      const ep = await db.selectFrom('webhook_endpoints').selectAll().where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
      expect(ep).toMatchObject({ consecutive_failures: 0, disabled_at: null });
      const metrics = await t.app.metrics.getSingleMetricAsString('mailtrail_webhook_deliveries_total');
      expect(metrics).toMatch(/outcome="delivered"} (1[6-9]|[2-9]\d)/);
      expect(metrics).toMatch(/outcome="failed"} (1[2-9]|[2-9]\d)/);
      // Delivered rows go after the retention period; nothing younger is touched.
      expect(await purgeDeliveredWebhooks(t.app)).toBe(0);
      const later: App = { ...t.app, clock: { now: () => new Date(Date.now() + 8 * 86_400_000) } };
      expect(await purgeDeliveredWebhooks(later)).toBeGreaterThanOrEqual(16);
      expect(await db.selectFrom('webhook_outbox').select('id').where('tenant_id', '=', tenantId).execute()).toHaveLength(0);
    } finally {
      await worker.stop();
      await receiver.stop();
    }
  });

  it('dead-letters after the schedule, disables a failing endpoint, and replays through the API', async () => {
    const db = t.app.database.db;
    const receiver = new Receiver(28112);
    // Find a free port, then leave it closed: the endpoint starts out refusing connections.
    await receiver.start();
    await receiver.stop();
    const { tenantId, key, endpointId, secret } = await tenantWithEndpoint('dying', receiver.url);
    // Same database, a stricter policy: 2 retries, disabled at the 5th consecutive failure.
    const strict: App = {
      ...t.app,
      config: { ...t.app.config, MAILTRAIL_WEBHOOK_RETRY_SCHEDULE: [30, 30], MAILTRAIL_WEBHOOK_DISABLE_AFTER: 5, MAILTRAIL_WEBHOOK_DISABLE_GRACE: 0 },
    };
    const id = await insertMessage(db, tenantId);
    await append(id, 'sent');
    await append(id, 'delivered');
    const auth = { authorization: `Bearer ${key}` };
    await until(async () => {
      await deliverDueWebhooks(strict);
      const ep = (await http.inject({ url: `/v1/webhooks/${endpointId}`, headers: auth })).json();
      return ep.enabled === false;
    }, 30_000, 'the endpoint to be disabled');

    const ep = (await http.inject({ url: `/v1/webhooks/${endpointId}`, headers: auth })).json();
    expect(ep.disabled_reason).toMatch(/5 consecutive failed deliveries; last error: connection refused$/);
    expect(ep.deliveries).toEqual({ pending: 1, dead: 1 });
    const dead = (await http.inject({ url: `/v1/webhooks/${endpointId}/dead-letters`, headers: auth })).json().data;
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ message_seq: 1, event_type: 'sent', attempts: 3, last_error: 'connection refused' });
    // The second event waited for the first to be given up (in order per message).
    const rows = await db.selectFrom('webhook_outbox').selectAll().where('endpoint_id', '=', endpointId).orderBy('id').execute();
    expect(rows[1].attempts).toBe(2);

    // Disabled: nothing is attempted, even when due.
    expect(await deliverDueWebhooks(strict)).toBe(0);

    await receiver.start();
    try {
      const enabled = await http.inject({ method: 'PATCH', url: `/v1/webhooks/${endpointId}`, headers: auth, payload: { enabled: true } });
      expect(enabled.json()).toMatchObject({ enabled: true, consecutive_failures: 0 });
      await until(async () => (await deliverDueWebhooks(strict), receiver.delivered().length === 1), 10_000, 'the pending event');
      const replay = await http.inject({ method: 'POST', url: `/v1/webhooks/${endpointId}/replay?since=2000-01-01`, headers: auth });
      expect(replay.statusCode).toBe(202);
      expect(replay.json()).toEqual({ replayed: 1 });
      await until(async () => (await deliverDueWebhooks(strict), receiver.delivered().length === 2), 10_000, 'the replayed event');
      const got = receiver.delivered<Body>();
      expect(got.map((b) => b.data.message_seq)).toEqual([2, 1]);
      expect(got[1].data.event_id).toBe(rows[0].event_id);
      expect(receiver.requests.every((r) => verifyWebhook(secret, r.headers as Record<string, string>, r.body))).toBe(true);
      expect((await http.inject({ url: `/v1/webhooks/${endpointId}`, headers: auth })).json().deliveries).toEqual({ pending: 0, dead: 0 });
    } finally {
      await receiver.stop();
    }
  });

  it('signs with both secrets during a rotation grace period, then with the new one only', async () => {
    const db = t.app.database.db;
    const receiver = new Receiver(28113);
    await receiver.start();
    try {
      const { tenantId, key, endpointId, secret: old } = await tenantWithEndpoint('rotating', receiver.url);
      const rotate = (grace: number) =>
        http.inject({ method: 'POST', url: `/v1/webhooks/${endpointId}/rotate-secret`, headers: { authorization: `Bearer ${key}` }, payload: { grace_seconds: grace } });
      const fresh = (await rotate(3600)).json().secret as string;
      const id = await insertMessage(db, tenantId);
      await append(id, 'sent');
      await until(async () => (await deliverDueWebhooks(t.app), receiver.delivered().length === 1), 10_000, 'first delivery');
      const first = receiver.requests.at(-1)!;
      expect(String(first.headers['webhook-signature']).split(' ')).toHaveLength(2);
      expect(verifyWebhook(old, first.headers as Record<string, string>, first.body)).toBe(true);
      expect(verifyWebhook(fresh, first.headers as Record<string, string>, first.body)).toBe(true);

      const newest = (await rotate(0)).json().secret as string;
      await append(id, 'delivered');
      await until(async () => (await deliverDueWebhooks(t.app), receiver.delivered().length === 2), 10_000, 'second delivery');
      const second = receiver.requests.at(-1)!;
      expect(verifyWebhook(newest, second.headers as Record<string, string>, second.body)).toBe(true);
      expect(verifyWebhook(fresh, second.headers as Record<string, string>, second.body)).toBe(false);
      // The README's recipe, by hand: HMAC-SHA256 over "id.timestamp.body" with the base64-decoded key.
      const mac = createHmac('sha256', Buffer.from(newest.slice('whsec_'.length), 'base64'))
        .update(`${second.headers['webhook-id']}.${second.headers['webhook-timestamp']}.${second.body}`)
        .digest('base64');
      expect(second.headers['webhook-signature']).toBe(`v1,${mac}`);
    } finally {
      await receiver.stop();
    }
  });
  it('refuses private, loopback, link-local and metadata targets at registration, naming why', async () => {
    const db = t.app.database.db;
    const tenant = await ensureTenant(db, 'ssrf-register');
    const auth = { authorization: `Bearer ${(await createApiKey(db, tenant.id)).key}` };
    const refused = [
      'http://169.254.169.254/latest/meta-data/',
      'http://127.0.0.2:8080/',
      'http://10.0.0.5/',
      'http://100.64.1.1/',
      'http://[::1]/',
      'http://[fe80::1]/',
      'http://[fd00::1]/',
      'http://[::ffff:127.0.0.2]/',
      'http://[::ffff:a9fe:a9fe]/',
      'http://0.0.0.0/',
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://localhost:9/',
      'https://api.localhost/',
    ];
    for (const url of refused) {
      const r = await http.inject({ method: 'POST', url: '/v1/webhooks', headers: auth, payload: { url } });
      expect(r.statusCode, url).toBe(400);
      expect(r.json(), url).toMatchObject({ field: 'url', message: expect.stringMatching(/address not allowed \(.+\).*MAILTRAIL_WEBHOOK_ALLOW_PRIVATE/) });
    }
    const ok = await http.inject({ method: 'POST', url: '/v1/webhooks', headers: auth, payload: { url: 'https://hooks.example.com/in' } });
    expect(ok.statusCode).toBe(201);
    const moved = await http.inject({ method: 'PATCH', url: `/v1/webhooks/${ok.json().id}`, headers: auth, payload: { url: 'http://192.168.1.1/' } });
    expect(moved.statusCode).toBe(400);
    expect(moved.json().message).toMatch(/private \(RFC 1918\)/);
    // A name is resolved at registration too.
    if (await loopbackName()) {
      expect(await refuseWebhookUrl(`http://${hostname()}:9/`, [])).toBe('resolves to a loopback address');
      expect(await refuseWebhookUrl(`http://${hostname()}:9/`, t.app.config.MAILTRAIL_WEBHOOK_ALLOW_PRIVATE)).toBeNull();
    }
  });

  it('checks the address again when it connects (a target that turned private is never reached) and tells the tenant only the class', async () => {
    const db = t.app.database.db;
    const receiver = new Receiver(28113);
    await receiver.start();
    const tenant = await ensureTenant(db, 'ssrf-connect');
    // Stored directly: as if the name resolved to a public address when it was registered.
    // The host's own name exercises the lookup path (a literal skips it) where it resolves to 127.0.0.1.
    const urls = [receiver.url, ...((await loopbackName()) ? [`http://${hostname()}:${receiver.port}/hook`] : [])];
    const endpointIds: string[] = [];
    for (const url of urls) {
      const id = uuidv7();
      endpointIds.push(id);
      await db.insertInto('webhook_endpoints').values({ id, tenant_id: tenant.id, url, secret: 'whsec_c2VjcmV0', description: null, previous_secret: null, previous_secret_expires_at: null, failing_since: null, disabled_at: null, disabled_reason: null, updated_at: new Date() }).execute();
    }
    // The operator's default policy: no private ranges allowed.
    const strict: App = { ...t.app, config: { ...t.app.config, MAILTRAIL_WEBHOOK_ALLOW_PRIVATE: [] } };
    const id = await insertMessage(db, tenant.id);
    await append(id, 'sent');
    await deliverDueWebhooks(strict);
    const rows = await db.selectFrom('webhook_outbox').selectAll().where('tenant_id', '=', tenant.id).orderBy('id').execute();
    expect(rows.map((r) => [r.attempts, r.last_error, r.last_status])).toEqual(urls.map(() => [1, 'address not allowed', null]));
    expect(receiver.requests).toHaveLength(0);

    // Allowed again, the receiver's answers reach the tenant as their class only.
    receiver.answer = () => 503;
    await db.updateTable('webhook_outbox').set({ next_attempt_at: new Date(0) }).where('tenant_id', '=', tenant.id).execute();
    await deliverDueWebhooks(t.app);
    const after = await db.selectFrom('webhook_outbox').selectAll().where('tenant_id', '=', tenant.id).orderBy('id').execute();
    expect(after.map((r) => [r.last_error, r.last_status])).toEqual(urls.map(() => ['HTTP 5xx', 503]));
    expect(receiver.requests).toHaveLength(urls.length);
    await receiver.stop();
    await db.deleteFrom('webhook_endpoints').where('id', 'in', endpointIds).execute();
  });
});
