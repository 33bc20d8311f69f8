import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES, type EventType } from '../../src/core/events.js';
import { uuidv7 } from '../../src/core/ids.js';
import { appendEvents, appendEventsBatch, listMessageEvents, type AppendResult, type NewEvent } from '../../src/db/events.js';
import { checkChain } from '../../src/proof/check.js';
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

  describe('appendEventsBatch', () => {
    const at = (min: number) => new Date(Date.UTC(2026, 0, 1, 0, min));
    const tenantSeqs = async (tenant: string) =>
      (await t.app.database.db.selectFrom('events').select('tenant_seq').where('tenant_id', '=', tenant).orderBy('tenant_seq').execute()).map((r) => Number(r.tenant_seq));
    const gapless = (seqs: number[]) => expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));

    it('writes several messages of two tenants in one batch: duplicates dropped, sequences, chain and outbox right', async () => {
      const db = t.app.database.db;
      const a = (await ensureTenant(db, 'batch-a')).id;
      const b = (await ensureTenant(db, 'batch-b')).id;
      await db.insertInto('webhook_endpoints').values({ id: uuidv7(), tenant_id: a, url: 'http://127.0.0.1:9/hook', secret: 's', description: null, previous_secret: null, previous_secret_expires_at: null, failing_since: null, disabled_at: null, disabled_reason: null, updated_at: new Date() }).execute();
      const [a1, a2, b1] = [await insertMessage(db, a), await insertMessage(db, a), await insertMessage(db, b)];
      const bounce = { type: 'bounced' as const, occurredAt: at(5), source: 'smtp' as const, dedupeKey: 'r:1', data: { bounce_class: 'hard' } };
      await db.transaction().execute((trx) => appendEvents(trx, a1, [{ type: 'sent', occurredAt: at(0), source: 'send' }, bounce]));

      const results = await db.transaction().execute((trx) =>
        appendEventsBatch(trx, [
          { messageId: b1, events: [{ type: 'sent', occurredAt: at(0), source: 'send' }] },
          { messageId: a1, events: [bounce, { type: 'opened', occurredAt: at(9), source: 'tracking', data: { human: false } }] },
          { messageId: '00000000-0000-7000-8000-000000000000', events: [{ type: 'opened', occurredAt: at(1), source: 'tracking' }] },
          { messageId: a2, events: [{ type: 'delivered', occurredAt: at(2), source: 'smtp', dedupeKey: 'd' }, { type: 'delivered', occurredAt: at(2), source: 'smtp', dedupeKey: 'd' }] },
          { messageId: a2, events: [{ type: 'delivered', occurredAt: at(2), source: 'smtp', dedupeKey: 'd' }, { type: 'opened', occurredAt: at(3), source: 'tracking' }] },
          { messageId: b1, events: [{ type: 'clicked', occurredAt: at(4), source: 'tracking', data: { url: 'https://x.test/' } }] },
        ]),
      );
      const summary = (r: AppendResult | null) => r && { n: r.inserted.length, before: r.before, status: r.status.status };
      expect(results.map(summary)).toEqual([
        { n: 1, before: 'sent', status: 'sent' },
        { n: 1, before: 'bounced', status: 'bounced' },
        null,
        { n: 1, before: 'sent', status: 'delivered' },
        { n: 1, before: 'delivered', status: 'opened' },
        { n: 1, before: 'sent', status: 'clicked' },
      ]);
      gapless(await tenantSeqs(a));
      gapless(await tenantSeqs(b));
      expect((await tenantSeqs(a)).length).toBe(5);
      const rows = await db.selectFrom('messages').select(['id', 'status', 'stage', 'human_opens', 'machine_opens', 'human_clicks']).where('id', 'in', [a1, a2, b1]).execute();
      const byId = new Map(rows.map((r) => [r.id, r]));
      expect(byId.get(a1)).toMatchObject({ status: 'bounced', stage: 2, human_opens: 0, machine_opens: 1 });
      expect(byId.get(a2)).toMatchObject({ status: 'opened', stage: 3, human_opens: 1 });
      expect(byId.get(b1)).toMatchObject({ status: 'clicked', stage: 3, human_clicks: 1 });
      for (const tenant of [a, b]) expect((await checkChain(t.app, tenant)).problems).toEqual([]);
      // The outbox numbers each event within its message's whole timeline, committed events included.
      const outbox = await db.selectFrom('webhook_outbox').select(['message_id', 'message_seq', 'event_type', 'tenant_seq']).where('tenant_id', '=', a).orderBy('tenant_seq').execute();
      expect(outbox.map((o) => [o.message_id, o.message_seq, o.event_type])).toEqual([
        [a1, 1, 'sent'],
        [a1, 2, 'bounced'],
        [a1, 3, 'opened'],
        [a2, 1, 'delivered'],
        [a2, 2, 'opened'],
      ]);
      expect(await db.selectFrom('webhook_outbox').select('id').where('tenant_id', '=', b).execute()).toHaveLength(0);
    });

    it('keeps tenant_seq gapless and the chains valid under concurrent batches', async () => {
      const db = t.app.database.db;
      const tenants = [(await ensureTenant(db, 'conc-a')).id, (await ensureTenant(db, 'conc-b')).id];
      const msgs = await Promise.all(Array.from({ length: 6 }, (_, i) => insertMessage(db, tenants[i % 2])));
      const opened = (i: number): NewEvent => ({ type: 'opened', occurredAt: at(i), source: 'tracking' });
      await Promise.all(
        Array.from({ length: 8 }, (_, k) =>
          db.transaction().execute((trx) =>
            appendEventsBatch(trx, (k % 2 ? [...msgs].reverse() : msgs).map((m, i) => ({ messageId: m, events: [opened(i), opened(i + 1)] }))),
          ),
        ),
      );
      for (const tenant of tenants) {
        const seqs = await tenantSeqs(tenant);
        expect(seqs).toHaveLength(8 * 3 * 2);
        gapless(seqs);
        expect((await checkChain(t.app, tenant)).ok).toBe(true);
      }
      const m = await db.selectFrom('messages').select(['human_opens', 'status']).where('id', '=', msgs[0]).executeTakeFirstOrThrow();
      expect(m).toEqual({ human_opens: 16, status: 'opened' });
    });

    it('has the effect of appendEvents item by item (property)', async () => {
      const db = t.app.database.db;
      const tenant = (await ensureTenant(db, 'prop')).id;
      const event = fc.record({
        type: fc.constantFrom(...EVENT_TYPES),
        minute: fc.integer({ min: 0, max: 30 }),
        key: fc.option(fc.constantFrom('k1', 'k2', 'k3'), { nil: undefined }),
        human: fc.boolean(),
        soft: fc.boolean(),
      });
      const toEvent = (e: { type: EventType; minute: number; key?: string; human: boolean; soft: boolean }): NewEvent => ({
        type: e.type,
        occurredAt: at(e.minute),
        source: 'manual',
        dedupeKey: e.key,
        data: { human: e.human, bounce_class: e.soft ? 'soft' : 'hard' },
      });
      // Items name one of three messages (repeats allowed); some events are committed beforehand.
      const scenario = fc.record({
        committed: fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.array(event, { maxLength: 3 })), { maxLength: 3 }),
        items: fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.array(event, { maxLength: 4 })), { minLength: 1, maxLength: 6 }),
      });
      const outcome = async (ids: string[], results: Array<AppendResult | null>) => ({
        results: results.map((r) => r && { types: r.inserted.map((e) => [e.type, e.dedupe_key]), before: r.before, status: r.status }),
        messages: await Promise.all(
          ids.map(async (id) => ({
            row: await db.selectFrom('messages').select(['status', 'stage', 'status_at', 'human_opens', 'machine_opens', 'human_clicks', 'machine_clicks']).where('id', '=', id).executeTakeFirstOrThrow(),
            timeline: (await db.selectFrom('events').select(['type', 'dedupe_key']).where('message_id', '=', id).orderBy('tenant_seq').execute()).map((e) => [e.type, e.dedupe_key]),
          })),
        ),
      });
      await fc.assert(
        fc.asyncProperty(scenario, async ({ committed, items }) => {
          const run = async (batched: boolean) => {
            const ids = [await insertMessage(db, tenant), await insertMessage(db, tenant), await insertMessage(db, tenant)];
            for (const [m, evs] of committed) await db.transaction().execute((trx) => appendEvents(trx, ids[m], evs.map(toEvent)));
            const list = items.map(([m, evs]) => ({ messageId: ids[m], events: evs.map(toEvent) }));
            const results = batched
              ? await db.transaction().execute((trx) => appendEventsBatch(trx, list))
              : await db.transaction().execute(async (trx) => {
                  const out = [];
                  for (const i of list) out.push(await appendEvents(trx, i.messageId, i.events));
                  return out;
                });
            return outcome(ids, results);
          };
          expect(await run(true)).toEqual(await run(false));
        }),
        { numRuns: 25 },
      );
      gapless(await tenantSeqs(tenant));
      expect((await checkChain(t.app, tenant)).ok).toBe(true);
    });
  });
});
