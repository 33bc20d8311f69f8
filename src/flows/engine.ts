import { sql, type Transaction } from 'kysely';
import type { App } from '../app.js';
import type { EventType } from '../core/events.js';
import { notificationState, type NotificationState } from '../core/notification-state.js';
import type { DB } from '../db/types.js';
import { submitMessage } from '../send/submit.js';
import { submitSms } from '../sms/submit.js';
import { parseStoredFlow } from './schema.js';

type Notification = {
  id: string;
  tenant_id: string;
  recipient: { email?: string; phone?: string };
  content: Record<string, unknown>;
  flow: unknown;
  metadata: Record<string, unknown>;
  state: string;
  cancelled_at: Date | null;
  created_at: Date;
};

/** The client key of a step's message: a retried decision finds the message it already made. */
export const stepClientKey = (notificationId: string, step: number) => `notification:${notificationId}:step:${step}`;

/** Steps a decision may start in one go; a flow has at most 8. */
const MAX_ROUNDS = 10;

/**
 * Decides a notification again, in the caller's transaction, which must hold its row lock
 * (FOR UPDATE): starts the steps that are due (each step's message is submitted in the same
 * transaction, with a client key of its own), records the state, the timeline and the next timer.
 * Idempotent: deciding twice on the same facts starts nothing the second time.
 */
export async function decideNotification(app: App, trx: Transaction<DB>, n: Notification, now: Date, because: string): Promise<NotificationState> {
  const flow = parseStoredFlow(n.flow);
  let state: NotificationState | null = null;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    state = notificationState({ flow, createdAt: n.created_at, cancelledAt: n.cancelled_at, steps: await startedSteps(trx, n.id), now });
    if (state.start.length === 0) break;
    for (const i of state.start) await startStep(app, trx, n, i, state.steps[i].channel, state.steps[i].dueAt, because);
  }
  if (!state) throw new Error('unreachable: no decision made');

  if (state.state !== n.state) {
    await trx
      .insertInto('notification_timeline')
      .values({
        notification_id: n.id,
        at: now,
        kind: 'state',
        data: JSON.stringify({ from: n.state, to: state.state, at: state.at, reached: state.reached, stopped: state.stopped, because }),
      })
      .execute();
  }
  await trx
    .updateTable('notifications')
    .set({
      state: state.state,
      state_at: state.at,
      reached_step: state.reached?.step ?? null,
      reached_channel: state.reached?.channel ?? null,
      reached_at: state.reached?.at ?? null,
      stop_reason: state.stopped?.reason ?? null,
      updated_at: now,
    })
    .where('id', '=', n.id)
    .execute();
  if (state.wakeAt) {
    // One timer per due time: a repeated decision does not add another.
    await sql`
      insert into notification_due (notification_id, due_at, reason)
      select ${n.id}::uuid, ${state.wakeAt}::timestamptz, 'timer'
      where not exists (select 1 from notification_due where notification_id = ${n.id}::uuid and due_at = ${state.wakeAt}::timestamptz)`.execute(trx);
  }
  return state;
}

async function startedSteps(trx: Transaction<DB>, notificationId: string) {
  const steps = await trx.selectFrom('notification_steps').select(['step', 'message_id', 'started_at']).where('notification_id', '=', notificationId).execute();
  if (steps.length === 0) return [];
  const events = await trx
    .selectFrom('events')
    .select(['message_id', 'type', 'occurred_at', 'data'])
    .where('message_id', 'in', steps.map((s) => s.message_id))
    .execute();
  return steps.map((s) => ({
    index: s.step,
    startedAt: s.started_at,
    events: events.filter((e) => e.message_id === s.message_id).map((e) => ({ type: e.type as EventType, occurredAt: e.occurred_at, data: e.data })),
  }));
}

async function startStep(app: App, trx: Transaction<DB>, n: Notification, step: number, channel: 'email' | 'sms', dueAt: Date | null, because: string) {
  const metadata = { ...n.metadata, notification_id: n.id, notification_step: step };
  const part = (n.content[channel] ?? {}) as Record<string, unknown>;
  const key = stepClientKey(n.id, step);
  const out =
    channel === 'email'
      ? await submitMessage(app, n.tenant_id, { ...(part as object), recipient: n.recipient.email ?? '', metadata } as never, key, trx)
      : await submitSms(app, n.tenant_id, { ...(part as object), channel: 'sms', recipient: n.recipient.phone ?? '', metadata } as never, key, trx);
  // The content was checked when the notification was created; a refusal now is a bug, not an outcome.
  if (!out.ok) throw new Error(`notification ${n.id} step ${step}: its ${channel} content no longer validates: ${out.issues[0]?.message}`);
  const now = app.clock.now();
  await trx
    .insertInto('notification_steps')
    .values({ notification_id: n.id, step, channel, message_id: out.id, started_at: now })
    .onConflict((oc) => oc.columns(['notification_id', 'step']).doNothing())
    .execute();
  await trx
    .insertInto('notification_timeline')
    .values({
      notification_id: n.id,
      at: now,
      kind: 'step_started',
      data: JSON.stringify({ step, channel, message_id: out.id, status: out.status, due_at: dueAt, because }),
    })
    .execute();
}

/** Loads a notification row for decideNotification; locks it when `lock` (FOR UPDATE). */
export async function loadNotification(trx: Transaction<DB>, id: string, lock: boolean): Promise<Notification | undefined> {
  let q = trx
    .selectFrom('notifications')
    .select(['id', 'tenant_id', 'recipient', 'content', 'flow', 'metadata', 'state', 'cancelled_at', 'created_at'])
    .where('id', '=', id);
  if (lock) q = q.forUpdate();
  return (await q.executeTakeFirst()) as Notification | undefined;
}

/**
 * Takes one due notification (its due rows and its row, FOR UPDATE SKIP LOCKED, so workers never
 * wait on each other nor take the same one), decides it and deletes the due rows it took, all in
 * one transaction. A crash before commit leaves the rows due; the decision is made again, once.
 * Returns false when nothing is due.
 */
export async function takeOneDue(app: App): Promise<boolean> {
  const now = app.clock.now();
  let current: string | null = null;
  try {
    return await decideOneDue(app, now, (id) => (current = id));
  } catch (err) {
    if (current === null) throw err;
    // One notification that cannot be decided must not hold up the others behind it in due order.
    app.log.error({ err, notification_id: current, code: 'MT_ERR_FLOW_DECISION' }, `could not decide a notification; trying it again in ${RETRY_MS / 1000} s`);
    await app.database.db
      .updateTable('notification_due')
      .set({ due_at: new Date(now.getTime() + RETRY_MS) })
      .where('notification_id', '=', current)
      .where('due_at', '<=', now)
      .execute();
    return true;
  }
}

/** A notification whose decision failed is tried again after this long. */
export const RETRY_MS = 60_000;

function decideOneDue(app: App, now: Date, taking: (id: string) => void): Promise<boolean> {
  return app.database.db.transaction().execute(async (trx) => {
    const head = await sql<{ notification_id: string; reason: string }>`
      select d.notification_id, d.reason from notification_due d join notifications n on n.id = d.notification_id
      where d.due_at <= ${now}::timestamptz
      order by d.due_at limit 1
      for update of d, n skip locked`.execute(trx);
    const first = head.rows[0];
    if (!first) return false;
    taking(first.notification_id);
    const taken = await sql<{ id: string; reason: string }>`
      select id, reason from notification_due
      where notification_id = ${first.notification_id}::uuid and due_at <= ${now}::timestamptz
      for update skip locked`.execute(trx);
    const n = await loadNotification(trx, first.notification_id, false);
    if (n) await decideNotification(app, trx, n, now, [...new Set(taken.rows.map((r) => r.reason))].sort().join(','));
    await trx.deleteFrom('notification_due').where('id', 'in', taken.rows.map((r) => Number(r.id))).execute();
    return true;
  });
}

/** Decides due notifications until none is due or `max` were decided; returns how many. */
export async function runDueTransitions(app: App, max = 100, signal?: AbortSignal): Promise<number> {
  let done = 0;
  while (done < max && !signal?.aborted && (await takeOneDue(app))) done++;
  return done;
}
