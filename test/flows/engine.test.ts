import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventType } from '../../src/core/events.js';
import { appendEvents } from '../../src/db/events.js';
import { ensureTenant } from '../../src/db/tenants.js';
import { cancelNotification, createNotification } from '../../src/flows/create.js';
import { RETRY_MS, runDueTransitions } from '../../src/flows/engine.js';
import type { FlowInput, NotificationInput } from '../../src/flows/schema.js';
import { dialect, testApp, type TestApp } from '../support/app.js';

const H = 3_600_000;
const content = {
  email: { from: 'Acme <news@acme.test>', subject: 'Your invoice', text: 'It is ready.' },
  sms: { from: 'Acme', text: 'Your invoice is ready.' },
};
const recipient = { email: 'pat@example.com', phone: '+33612345678' };
const onBounce: FlowInput = { mode: 'cross', steps: [{ channel: 'email', next: { when: 'failed', bounce: 'hard' } }, { channel: 'sms' }] };
const ifNotOpened: FlowInput = { mode: 'cross', steps: [{ channel: 'email', next: { when: 'no_status', statuses: ['opened'], within_ms: 48 * H } }, { channel: 'sms' }] };
const reminder: FlowInput = { mode: 'cross', steps: [{ channel: 'email', next: { when: 'always', after_ms: 24 * H } }, { channel: 'sms' }] };

describe(`flow engine on ${dialect}`, () => {
  let t: TestApp;
  let tenant: string;
  let now = new Date('2026-03-01T09:00:00Z');
  const clock = { now: () => now };
  const advance = (ms: number) => (now = new Date(now.getTime() + ms));
  const db = () => t.app.database.db;

  beforeAll(async () => {
    t = await testApp({}, clock);
    tenant = (await ensureTenant(db(), 'flows')).id;
  });
  afterAll(async () => t.close());

  async function create(flow: unknown, extra: Partial<NotificationInput> = {}) {
    const out = await createNotification(t.app, tenant, { recipient, content, flow: flow as NotificationInput['flow'], ...extra });
    if (!out.ok) throw new Error(JSON.stringify(out));
    return out.id;
  }
  async function steps(id: string) {
    return db()
      .selectFrom('notification_steps as s')
      .innerJoin('messages as m', 'm.id', 's.message_id')
      .select(['s.step', 's.channel', 's.message_id', 'm.status', 'm.recipient'])
      .where('s.notification_id', '=', id)
      .orderBy('s.step')
      .execute();
  }
  const notification = (id: string) => db().selectFrom('notifications').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  async function fact(messageId: string, type: EventType, data: Record<string, unknown> = {}, at = now) {
    await db().transaction().execute((trx) => appendEvents(trx, messageId, [{ type, occurredAt: at, source: 'send', data }]));
  }
  const drain = () => runDueTransitions(t.app, 1000);

  it('cross: an email that hard-bounces is followed by an SMS; the SMS delivered reaches the person', async () => {
    const id = await create(onBounce);
    let s = await steps(id);
    expect(s).toMatchObject([{ step: 0, channel: 'email', status: 'queued', recipient: 'pat@example.com' }]);
    expect((await notification(id)).state).toBe('in_progress');
    await fact(s[0].message_id, 'sent');
    await drain();
    expect(await steps(id)).toHaveLength(1);
    await fact(s[0].message_id, 'bounced', { bounce_class: 'hard' });
    expect(await drain()).toBeGreaterThan(0);
    s = await steps(id);
    expect(s).toMatchObject([{ channel: 'email', status: 'bounced' }, { step: 1, channel: 'sms', status: 'queued', recipient: '+33612345678' }]);
    const sms = await db().selectFrom('messages').select(['metadata', 'client_key']).where('id', '=', s[1].message_id).executeTakeFirstOrThrow();
    expect(sms.metadata).toMatchObject({ notification_id: id, notification_step: 1 });
    await fact(s[1].message_id, 'delivered');
    await drain();
    expect(await notification(id)).toMatchObject({ state: 'reached', reached_channel: 'sms', reached_step: 1 });
    const timeline = await db().selectFrom('notification_timeline').select(['kind', 'data']).where('notification_id', '=', id).orderBy('id').execute();
    expect(timeline.map((e) => e.kind)).toEqual(['created', 'step_started', 'state', 'step_started', 'state']);
    expect(timeline[3].data).toMatchObject({ step: 1, channel: 'sms', because: 'status' });
  });

  it('cross: an email not opened within the delay is followed by an SMS (injected clock)', async () => {
    const id = await create(ifNotOpened);
    const [email] = await steps(id);
    await fact(email.message_id, 'sent');
    await fact(email.message_id, 'delivered');
    advance(47 * H);
    await drain();
    expect(await steps(id)).toHaveLength(1);
    advance(1 * H);
    await drain();
    expect((await steps(id)).map((s) => s.channel)).toEqual(['email', 'sms']);
  });

  it('cross: an email opened in time stops the flow as reached; the timer then does nothing', async () => {
    const id = await create(ifNotOpened);
    const [email] = await steps(id);
    await fact(email.message_id, 'sent');
    advance(H);
    await fact(email.message_id, 'opened', { human: true });
    await drain();
    expect(await notification(id)).toMatchObject({ state: 'reached', reached_channel: 'email' });
    advance(48 * H);
    await drain();
    expect(await steps(id)).toHaveLength(1);
  });

  it('multi: both channels at once, reached on the first delivered', async () => {
    const id = await create({ mode: 'multi', channels: ['email', 'sms'] });
    const s = await steps(id);
    expect(s.map((x) => [x.channel, x.status])).toEqual([['email', 'queued'], ['sms', 'queued']]);
    await fact(s[1].message_id, 'delivered');
    advance(60_000);
    await fact(s[0].message_id, 'delivered');
    await drain();
    expect(await notification(id)).toMatchObject({ state: 'reached', reached_channel: 'sms' });
  });

  it('an unsubscribe on the email stops every later step', async () => {
    const id = await create(reminder);
    const [email] = await steps(id);
    await fact(email.message_id, 'delivered');
    await fact(email.message_id, 'unsubscribed');
    await drain();
    expect(await notification(id)).toMatchObject({ state: 'stopped', stop_reason: 'unsubscribed' });
    advance(25 * H);
    await drain();
    expect(await steps(id)).toHaveLength(1);
  });

  it('a suppressed SMS number is rejected on its channel only: the email of a multi flow still goes', async () => {
    await db().insertInto('suppressions').values({ tenant_id: tenant, address: '+33699999999', reason: 'unsubscribed', source: 'manual' }).execute();
    const id = await create({ mode: 'multi', channels: ['email', 'sms'] }, { recipient: { email: 'sam@example.com', phone: '+33699999999' } });
    const s = await steps(id);
    expect(s.map((x) => x.status)).toEqual(['queued', 'rejected']);
    await drain();
    expect((await notification(id)).state).toBe('in_progress');
  });

  it('cancel stops pending steps', async () => {
    const id = await create(reminder);
    expect(await cancelNotification(t.app, tenant, id)).toBe('stopped');
    advance(25 * H);
    await drain();
    expect(await steps(id)).toHaveLength(1);
    expect(await notification(id)).toMatchObject({ state: 'stopped', stop_reason: 'cancelled' });
    expect(await cancelNotification(t.app, tenant, '00000000-0000-7000-8000-000000000000')).toBeNull();
  });

  it('creation is idempotent on the client key', async () => {
    const a = await createNotification(t.app, tenant, { recipient, content, flow: onBounce }, 'order-77');
    const b = await createNotification(t.app, tenant, { recipient, content, flow: onBounce }, 'order-77');
    expect(a).toMatchObject({ ok: true, created: true });
    expect(b).toMatchObject({ ok: true, created: false, id: (a as { id: string }).id });
    expect(await steps((a as { id: string }).id)).toHaveLength(1);
  });

  it('refuses a flow whose channel has no address or no valid content, naming the field', async () => {
    const noPhone = await createNotification(t.app, tenant, { recipient: { email: 'a@example.com' }, content, flow: onBounce });
    expect(noPhone).toMatchObject({ ok: false, issues: [{ path: ['recipient', 'phone'] }] });
    const badSms = await createNotification(t.app, tenant, { recipient, content: { ...content, sms: { from: 'Acme' } }, flow: onBounce });
    expect(badSms).toMatchObject({ ok: false, issues: [{ path: ['content', 'sms', 'text'] }] });
    expect(await createNotification(t.app, tenant, { recipient, content } as NotificationInput)).toMatchObject({ ok: false, issues: [{ path: ['flow'] }] });
    const unknownTemplate = await createNotification(t.app, tenant, { recipient, content: { ...content, email: { from: 'a@acme.test', template: { key: 'no-such-template' } } }, flow: onBounce });
    expect(unknownTemplate).toMatchObject({ ok: false, issues: [{ path: ['content', 'email', 'template', 'key'] }] });
  });

  it('two workers at once on the same due timers: each step started exactly once', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await create(ifNotOpened, { recipient: { email: `w${i}@example.com`, phone: `+3361234${String(5000 + i)}` } }));
    advance(49 * H);
    const [a, b] = await Promise.all([runDueTransitions(t.app, 1000), runDueTransitions(t.app, 1000)]);
    expect(a + b).toBeGreaterThanOrEqual(ids.length);
    for (const id of ids) expect((await steps(id)).map((s) => s.channel)).toEqual(['email', 'sms']);
    const started = await db().selectFrom('notification_timeline').select(sql<number>`count(*)::int`.as('n')).where('notification_id', 'in', ids).where('kind', '=', 'step_started').executeTakeFirstOrThrow();
    expect(started.n).toBe(ids.length * 2);
    const due = await db().selectFrom('notification_due').select(sql<number>`count(*)::int`.as('n')).where('notification_id', 'in', ids).where('due_at', '<=', now).executeTakeFirstOrThrow();
    expect(due.n).toBe(0);
  });

  it('a status event arriving while the timer fires is handled once', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await create(ifNotOpened, { recipient: { email: `r${i}@example.com`, phone: `+3361235${String(5000 + i)}` } }));
    const emails = await Promise.all(ids.map(async (id) => (await steps(id))[0].message_id));
    advance(48 * H);
    // The open (dated just before the deadline) lands while the workers take the due timers.
    await Promise.all([
      runDueTransitions(t.app, 1000),
      ...emails.map((m) => fact(m, 'opened', { human: true }, new Date(now.getTime() - 1000))),
      runDueTransitions(t.app, 1000),
    ]);
    await drain();
    for (const id of ids) {
      const s = await steps(id);
      // Either the open was decided first (no SMS) or the timer was (one SMS): never two, and reached by the email.
      expect(s.length).toBeLessThanOrEqual(2);
      expect(await notification(id)).toMatchObject({ state: 'reached', reached_channel: 'email' });
      const started = await db().selectFrom('notification_timeline').select(sql<number>`count(*)::int`.as('n')).where('notification_id', '=', id).where('kind', '=', 'step_started').executeTakeFirstOrThrow();
      expect(started.n).toBe(s.length);
    }
  });

  it('a notification that cannot be decided is put off; the ones due after it still go', async () => {
    const bad = await create(ifNotOpened);
    const good = await create(ifNotOpened, { recipient: { email: 'ok@example.com', phone: '+33612340001' } });
    // Its stored SMS content made invalid behind the API's back: submitting the step refuses it.
    await db().updateTable('notifications').set({ content: JSON.stringify({ ...content, sms: { from: 'Acme' } }) }).where('id', '=', bad).execute();
    advance(48 * H);
    await drain();
    expect(await steps(bad)).toHaveLength(1);
    expect((await steps(good)).map((s) => s.channel)).toEqual(['email', 'sms']);
  });

  it('the database failing mid-decision loses nothing and repeats nothing', async () => {
    const id = await create(ifNotOpened);
    advance(48 * H);
    // A real failure inside the engine's transaction, after the SMS message was inserted.
    await sql`create function mt_test_fail() returns trigger language plpgsql as $$ begin raise exception 'disk full'; end $$`.execute(db());
    await sql`create trigger mt_test_fail before insert on notification_timeline for each row execute function mt_test_fail()`.execute(db());
    await runDueTransitions(t.app, 1000);
    expect(await steps(id)).toHaveLength(1);
    // Put off, not dropped: due again after the retry delay.
    const due = await db().selectFrom('notification_due').select('due_at').where('notification_id', '=', id).execute();
    expect(due.map((d) => d.due_at.getTime())).toContain(now.getTime() + RETRY_MS);
    const smsCount = await db().selectFrom('messages').select(sql<number>`count(*)::int`.as('n')).where('client_key', '=', `notification:${id}:step:1`).executeTakeFirstOrThrow();
    expect(smsCount.n).toBe(0);
    await sql`drop trigger mt_test_fail on notification_timeline`.execute(db());
    await drain();
    expect(await steps(id)).toHaveLength(1);
    advance(RETRY_MS);
    await drain();
    await drain();
    expect((await steps(id)).map((s) => s.channel)).toEqual(['email', 'sms']);
  });
});
