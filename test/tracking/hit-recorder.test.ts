import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/core/ids.js';
import { HitRecorder } from '../../src/tracking/hit-recorder.js';
import { testApp, type TestApp } from '../support/app.js';

describe('HitRecorder', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  const stored = async (messageId: string) =>
    Number((await sql<{ n: number }>`select count(*)::int as n from tracking_hits where message_id = ${messageId}`.execute(t.app.database.db)).rows[0].n);

  it('commits each hit before resolving, batching the hits of one event-loop turn', async () => {
    const recorder = new HitRecorder(t.app);
    const messageId = uuidv7();
    try {
      const hit = { message_id: messageId, kind: 'open' as const, url: null, method: 'GET', user_agent: 'ua', ip: '127.0.0.1', occurred_at: new Date() };
      const done = await Promise.all(Array.from({ length: 300 }, () => recorder.record(hit)));
      expect(done.every(Boolean)).toBe(true);
      expect(await stored(messageId)).toBe(300);
    } finally {
      await recorder.close();
    }
  });

  it('writes a backlog bigger than one statement, in several, exactly once, when the database is back', async () => {
    const recorder = new HitRecorder(t.app);
    const messageId = uuidv7();
    const db = t.app.database.db;
    try {
      await sql`alter table tracking_hits rename to tracking_hits_away`.execute(db);
      let answered: boolean[];
      try {
        const hit = { message_id: messageId, kind: 'click' as const, url: 'https://shop.example/', method: 'GET', user_agent: null, ip: null, occurred_at: new Date() };
        answered = await Promise.all(Array.from({ length: 2_500 }, () => recorder.record(hit)));
      } finally {
        await sql`alter table tracking_hits_away rename to tracking_hits`.execute(db);
      }
      // Not committed: the callers were told so (and answered the recipient anyway).
      expect(answered.some(Boolean)).toBe(false);
      expect(await t.app.metrics.metrics()).toMatch(/mailtrail_tracking_hits_backlog 2500/);
      // Retried every second, then one statement after another until the backlog is empty.
      const deadline = Date.now() + 20_000;
      while ((await stored(messageId)) < 2_500 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 300));
      expect(await stored(messageId)).toBe(2_500);
      expect(await t.app.metrics.metrics()).toMatch(/mailtrail_tracking_hits_backlog 0/);
    } finally {
      await recorder.close();
    }
    expect(await t.app.metrics.metrics()).toMatch(/mailtrail_tracking_hits_lost_total 0/);
  });
});
