import { sql } from 'kysely';
import type { Transporter } from 'nodemailer';
import type { App } from '../app.js';
import { appendEvents, type NewEvent } from '../db/events.js';
import type { Message } from '../db/types.js';
import { suppressAfter } from '../ingest/suppress.js';
import type { Job } from '../server/worker.js';
import { composeMessage } from './compose.js';
import { relayFailure, retryDelayMs } from './relay-reply.js';
import { relayTransport } from './transport.js';

/**
 * A claimed message is leased for this long: longer than any send can take (nodemailer's
 * timeouts), so a crashed worker's messages go back to the queue, never to two live workers.
 */
const LEASE_MS = 10 * 60_000;

/** Sends queued and deferred messages that are due, `MAILTRAIL_SEND_CONCURRENCY` at a time. */
export const sendJob: Job = {
  name: 'send',
  intervalMs: 1_000,
  run: (app, signal) => sendDue(app, signal),
};

/** One round: claim due messages, send them outside any transaction, record each outcome. */
export async function sendDue(app: App, signal: AbortSignal): Promise<number> {
  const transport = relayTransport(app, signal);
  if (!transport) return 0;
  const concurrency = app.config.MAILTRAIL_SEND_CONCURRENCY;
  const batch = await claimDue(app, concurrency * 4);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, batch.length) }, async () => {
      while (next < batch.length) {
        const msg = batch[next++];
        await sendOne(app, transport, msg).catch((err: unknown) => {
          // Most likely the database: the lease runs out and the message is tried again.
          app.log.error({ err, code: 'MT_ERR_SEND_RECORD', message_id: msg.id }, 'could not record a send outcome');
        });
      }
    }),
  );
  return batch.length;
}

/**
 * Takes due messages in one short statement: the rows are locked (SKIP LOCKED, so concurrent
 * workers take disjoint sets) only while their lease is written, never across the network.
 */
async function claimDue(app: App, limit: number): Promise<Message[]> {
  const now = app.clock.now();
  const { rows } = await sql<Message>`
    update messages set next_attempt_at = ${new Date(now.getTime() + LEASE_MS)}, attempts = attempts + 1
    where id in (
      select id from messages
      where sent_at is null and next_attempt_at <= ${now}
      order by next_attempt_at
      limit ${limit}
      for update skip locked)
    returning *`.execute(app.database.db);
  return rows;
}

async function sendOne(app: App, transport: Transporter, msg: Message): Promise<void> {
  const log = app.log.child({ role: 'worker', job: 'send', message_id: msg.id });
  const suppression = await app.database.db
    .selectFrom('suppressions')
    .select(['id', 'reason', 'source', 'created_at'])
    .where('tenant_id', '=', msg.tenant_id)
    .where('address', '=', msg.recipient_key)
    .executeTakeFirst();
  if (suppression) {
    // Suppressed while it waited (a bounce or complaint of another message): still nothing sent.
    await record(app, msg, {
      type: 'rejected',
      occurredAt: app.clock.now(),
      source: 'send',
      dedupeKey: 'send:rejected',
      data: { suppression: { id: suppression.id, reason: suppression.reason, source: suppression.source, since: suppression.created_at } },
    }, { next_attempt_at: null });
    return;
  }

  const attempt = msg.attempts;
  const relay = new URL(app.config.MAILTRAIL_SMTP_RELAY_URL ?? 'smtp://unset').host;
  try {
    const info = await transport.sendMail(composeMessage(app, msg));
    const at = app.clock.now();
    await record(app, msg, {
      type: 'sent',
      occurredAt: at,
      source: 'send',
      dedupeKey: `send:${attempt}:sent`,
      data: { attempt, relay, response: String(info.response ?? '').slice(0, 2000) },
    }, { sent_at: at, next_attempt_at: new Date(at.getTime() + app.config.MAILTRAIL_DELIVERED_AFTER), last_error: null });
  } catch (err) {
    const at = app.clock.now();
    const f = relayFailure(err, msg.recipient);
    const details = { attempt, relay, reason: f.reason, bounce_class: f.bounce_class, status: f.status, replycode: f.replycode, diagnostic: f.diagnostic, command: f.command, evidence: f.evidence };
    const lastError = `${f.replycode || f.evidence[0]?.matched || 'error'} ${f.diagnostic}`.slice(0, 500);
    if (f.permanent) {
      await record(app, msg, { type: 'bounced', occurredAt: at, source: 'send', dedupeKey: `send:${attempt}:bounced`, data: { ...details, synchronous: true } }, { next_attempt_at: null, last_error: lastError });
      return;
    }
    const expired = at.getTime() - msg.created_at.getTime() >= app.config.MAILTRAIL_SEND_MAX_AGE;
    if (expired) {
      await record(app, msg, {
        type: 'bounced',
        occurredAt: at,
        source: 'send',
        dedupeKey: `send:${attempt}:bounced`,
        data: { ...details, reason: 'expired', bounce_class: 'soft', last_reason: f.reason, evidence: [...f.evidence, { rule: 'send:max-age', matched: `${app.config.MAILTRAIL_SEND_MAX_AGE}ms` }] },
      }, { next_attempt_at: null, last_error: lastError });
      return;
    }
    const retryAt = new Date(at.getTime() + retryDelayMs(attempt));
    log.warn({ code: 'MT_ERR_SEND_DEFERRED', reason: f.reason, replycode: f.replycode, retry_at: retryAt }, 'relay did not take the message; will retry');
    await record(app, msg, { type: 'deferred', occurredAt: at, source: 'send', dedupeKey: `send:${attempt}:deferred`, data: { ...details, retry_at: retryAt } }, { next_attempt_at: retryAt, last_error: lastError });
  }
}

/**
 * Appends the outcome and updates the queue columns in one transaction (appendEvents first: it
 * takes the tenant lock before any message row). The update is fenced on `attempts`: if the
 * lease expired and another worker re-claimed the message, its state is that worker's to write.
 */
async function record(
  app: App,
  msg: Message,
  event: NewEvent,
  queue: { next_attempt_at: Date | null; sent_at?: Date; last_error?: string | null },
): Promise<void> {
  await app.database.db.transaction().execute(async (trx) => {
    const r = await appendEvents(trx, msg.id, [event]);
    if (!r) return;
    await trx.updateTable('messages').set(queue).where('id', '=', msg.id).where('attempts', '=', msg.attempts).execute();
    if (r.inserted.length > 0) {
      await suppressAfter(trx, msg, r.inserted, app.config.MAILTRAIL_SOFT_BOUNCE_LIMIT, app.clock.now());
    }
  });
}
