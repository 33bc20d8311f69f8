import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEvents, listMessageEvents } from '../../src/db/events.js';
import { ensureTenant } from '../../src/db/tenants.js';
import { dialect, testApp, type TestApp } from '../support/app.js';
import { insertMessage } from '../support/messages.js';

describe(`events on ${dialect}`, () => {
  let t: TestApp;
  let tenantId: string;
  beforeAll(async () => {
    t = await testApp();
    tenantId = (await ensureTenant(t.app.database.db, 'acme')).id;
  });
  afterAll(() => t.close());

  it('appends events and stores the derived status', async () => {
    const db = t.app.database.db;
    const id = await insertMessage(db, tenantId);
    const at = new Date('2026-01-01T00:00:00Z');
    const r = await db.transaction().execute((trx) =>
      appendEvents(trx, id, [
        { type: 'sent', occurredAt: at, source: 'send' },
        { type: 'delivered', occurredAt: new Date(at.getTime() + 60_000), source: 'timer' },
      ]),
    );
    expect(r?.inserted).toHaveLength(2);
    expect(r?.status.status).toBe('delivered');
    const msg = await db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(msg.status).toBe('delivered');
    expect(msg.stage).toBe(2);
    const timeline = await listMessageEvents(db, id);
    expect(timeline.map((e) => e.type)).toEqual(['sent', 'delivered']);
    expect(timeline[0].data).toEqual({});
  });

  it('records a fact with the same dedupe key once', async () => {
    const db = t.app.database.db;
    const id = await insertMessage(db, tenantId);
    const e = { type: 'bounced' as const, occurredAt: new Date(), source: 'smtp' as const, dedupeKey: 'report:1:a@b', data: { bounce_class: 'hard' } };
    await db.transaction().execute((trx) => appendEvents(trx, id, [e, e]));
    const again = await db.transaction().execute((trx) => appendEvents(trx, id, [e]));
    expect(again?.inserted).toHaveLength(0);
    expect(await listMessageEvents(db, id)).toHaveLength(1);
  });

  it('returns null for an unknown message', async () => {
    const r = await t.app.database.db
      .transaction()
      .execute((trx) => appendEvents(trx, '00000000-0000-7000-8000-000000000000', [{ type: 'opened', occurredAt: new Date(), source: 'tracking' }]));
    expect(r).toBeNull();
  });

  it('refuses to update or delete an event (append-only in the database)', async () => {
    const db = t.app.database.db;
    const id = await insertMessage(db, tenantId);
    await db.transaction().execute((trx) => appendEvents(trx, id, [{ type: 'sent', occurredAt: new Date(), source: 'send' }]));
    await expect(sql`update events set type = 'delivered' where message_id = ${id}`.execute(db)).rejects.toThrow(/append-only/);
    await expect(sql`delete from events where message_id = ${id}`.execute(db)).rejects.toThrow(/append-only/);
  });

  it('hands out a gapless per-tenant sequence under concurrent writers', async () => {
    const db = t.app.database.db;
    const ids = await Promise.all(Array.from({ length: 8 }, () => insertMessage(db, tenantId)));
    await Promise.all(
      ids.flatMap((id) =>
        [0, 1, 2].map(() =>
          db.transaction().execute((trx) => appendEvents(trx, id, [{ type: 'opened', occurredAt: new Date(), source: 'tracking' }])),
        ),
      ),
    );
    const seqs = (await db.selectFrom('events').select('tenant_seq').where('tenant_id', '=', tenantId).orderBy('tenant_seq').execute()).map((r) => r.tenant_seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    const msg = await db.selectFrom('messages').select(['human_opens', 'status']).where('id', '=', ids[0]).executeTakeFirstOrThrow();
    expect(msg).toEqual({ human_opens: 3, status: 'opened' });
  });
});
