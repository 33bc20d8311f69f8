import { get as httpGet, type ClientRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEvents } from '../../src/db/events.js';
import { createApiKey, ensureTenant } from '../../src/db/tenants.js';
import { serve, type Running } from '../../src/server/serve.js';
import { dialect, testApp, type TestApp } from '../support/app.js';
import { insertMessage } from '../support/messages.js';
import { until } from '../webhooks/receiver.js';

interface SseEvent {
  id: number;
  event: string;
  data: { data: { tenant_seq: number; message: { id: string } } };
}

/**
 * A minimal SSE client on node:http without connection reuse (fetch's pool may open spare
 * sockets that would make a shutdown-time measurement about the client, not the server).
 */
function openStream(url: string, key: string, lastEventId?: number) {
  const events: SseEvent[] = [];
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId);
  let req: ClientRequest | undefined;
  let opened!: () => void;
  // Headers arrive once the server has fixed the stream's start position.
  const ready = new Promise<void>((r) => (opened = r));
  const done = new Promise<number>((resolve, reject) => {
    req = httpGet(url, { headers, agent: false }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`stream answered ${res.statusCode}`));
      opened();
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const f: Record<string, string> = {};
          for (const line of block.split('\n')) {
            const m = /^([a-z]+): ?(.*)$/.exec(line);
            if (m) f[m[1]] = m[2];
          }
          if (f.id) events.push({ id: Number(f.id), event: f.event, data: JSON.parse(f.data) });
        }
      });
      res.on('close', () => resolve(Date.now()));
    });
    req.on('error', () => resolve(Date.now()));
  });
  return { events, close: () => req?.destroy(), done, ready };
}

describe(`sender API through the started server on ${dialect}`, () => {
  let t: TestApp;
  let running: Running;
  let base: string;
  let keyA: string;
  let keyB: string;
  let tenantA: string;
  let tenantB: string;
  const call = (path: string, key: string) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${key}` } });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const json = async (path: string, key: string): Promise<any> => (await call(path, key)).json();

  beforeAll(async () => {
    t = await testApp({ MAILTRAIL_HTTP_HOST: '127.0.0.1', MAILTRAIL_HTTP_PORT: '28120' });
    const db = t.app.database.db;
    tenantA = (await ensureTenant(db, 'a')).id;
    tenantB = (await ensureTenant(db, 'b')).id;
    keyA = (await createApiKey(db, tenantA)).key;
    keyB = (await createApiKey(db, tenantB)).key;
    running = await serve(t.app, ['http']);
    base = `http://127.0.0.1:${running.http!.port}`;
  });
  afterAll(async () => {
    await running?.stop();
    await t.close();
  });

  const append = (id: string, type: 'sent' | 'delivered' | 'opened') =>
    t.app.database.db.transaction().execute((trx) => appendEvents(trx, id, [{ type, occurredAt: new Date(), source: 'send' }]));

  it('keeps tenants apart: messages, lists, stats and the stream', async () => {
    const db = t.app.database.db;
    const streamB = openStream(`${base}/v1/events/stream`, keyB);
    const streamA = openStream(`${base}/v1/events/stream`, keyA);
    await Promise.all([streamA.ready, streamB.ready]);
    const mineA = await insertMessage(db, tenantA, 'shared@example.com');
    await append(mineA, 'sent');
    const res = await call(`/v1/messages/${mineA}`, keyB);
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect((await json(`/v1/messages/${mineA}`, keyA)).id).toBe(mineA);
    expect((await json('/v1/messages?recipient=shared@example.com', keyB)).data).toEqual([]);
    expect((await json('/v1/stats', keyB)).groups).toEqual([]);
    await until(() => streamA.events.length >= 1, 10_000, 'A to see its event');
    await new Promise((r) => setTimeout(r, 600));
    streamA.close();
    streamB.close();
    expect(streamB.events).toEqual([]);
    expect(streamA.events[0].data.data.message.id).toBe(mineA);
  });

  it('paginates without duplicates or gaps while messages are being inserted', async () => {
    const db = t.app.database.db;
    const tenant = (await ensureTenant(db, 'pager')).id;
    const key = (await createApiKey(db, tenant)).key;
    const original = new Set<string>();
    for (let i = 0; i < 60; i++) original.add(await insertMessage(db, tenant, `p${i}@example.com`));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = (await (await call(`/v1/messages?limit=9${cursor ? `&cursor=${cursor}` : ''}`, key)).json()) as {
        data: Array<{ id: string }>;
        next_cursor: string | null;
      };
      seen.push(...page.data.map((m) => m.id));
      cursor = page.next_cursor;
      for (let i = 0; i < 4; i++) await insertMessage(db, tenant, `new${i}@example.com`);
    } while (cursor);
    expect(seen).toHaveLength(60);
    expect(new Set(seen)).toEqual(original);
  });

  it('streams committed events; a client that disconnects resumes with Last-Event-ID without loss or duplicates', async () => {
    const db = t.app.database.db;
    const tenant = (await ensureTenant(db, 'streamer')).id;
    const key = (await createApiKey(db, tenant)).key;
    const ids = await Promise.all(Array.from({ length: 5 }, () => insertMessage(db, tenant)));
    const total = 45;
    let written = 0;
    const writer = (async () => {
      for (const type of ['sent', 'delivered', 'opened', 'opened', 'opened', 'opened', 'opened', 'opened', 'opened'] as const) {
        await Promise.all(ids.map((id) => append(id, type)));
        written += ids.length;
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    const received: SseEvent[] = [];
    let last = 0;
    let connections = 0;
    while (received.length < total) {
      const s = openStream(`${base}/v1/events/stream`, key, last);
      connections++;
      // Drop the connection after a few events (or a short while), as a flaky client would.
      await until(() => s.events.length >= 7 || (written === total && s.events.length + received.length >= total), 20_000, 'events');
      s.close();
      await s.done;
      // Keep at most 7 per connection, whatever arrived: the rest must come again after resuming.
      received.push(...s.events.slice(0, 7));
      last = received.at(-1)?.id ?? last;
    }
    await writer;
    expect(connections).toBeGreaterThan(2);
    expect(received.map((e) => e.id)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(received.every((e) => e.data.data.tenant_seq === e.id && e.event.startsWith('message.'))).toBe(true);
    const filtered = openStream(`${base}/v1/events/stream?last_event_id=0&types=delivered`, key);
    await until(() => filtered.events.length >= 5, 10_000, 'the delivered events');
    await new Promise((r) => setTimeout(r, 300));
    filtered.close();
    expect(filtered.events.map((e) => e.event)).toEqual(Array(5).fill('message.delivered'));
    const bad = await fetch(`${base}/v1/events/stream`, { headers: { authorization: `Bearer ${key}`, 'last-event-id': 'x' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { field: string }).field).toBe('last-event-id');
  });

  it('shuts down promptly with a stream open', async () => {
    const s = openStream(`${base}/v1/events/stream`, keyA, 0);
    await until(() => s.events.length >= 1, 10_000, 'the stream to be open');
    const started = Date.now();
    const stopped = running.stop();
    expect((await s.done) - started).toBeLessThan(2_000);
    await stopped;
    running = { stop: async () => {} };
  });
});
