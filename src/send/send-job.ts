import { sql } from 'kysely';
import type { SendMailOptions, Transporter } from 'nodemailer';
import type { App } from '../app.js';
import type { Message, Suppression } from '../db/types.js';
import type { Job } from '../server/worker.js';
import { emailCommitment, saltOf } from '../proof/commitments.js';
import { SENT_BYTES_OPTION, type SentBytes } from '../proof/sent-bytes.js';
import { composeMessage } from './compose.js';
import { OutcomeWriter } from './outcomes.js';
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
  if (batch.length === 0) return 0;
  const suppressed = await suppressionsOf(app, batch);
  const outcomes = new OutcomeWriter(app);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, batch.length) }, async () => {
      while (next < batch.length) {
        const msg = batch[next++];
        await sendOne(app, transport, outcomes, msg, suppressed.get(`${msg.tenant_id} ${msg.recipient_key}`)).catch((err: unknown) => {
          // Not a relay answer (those are outcomes): a bug or bad stored content. The lease runs out and it is retried.
          app.log.error({ err, code: 'MT_ERR_SEND', message_id: msg.id }, 'could not send a message');
        });
      }
    }),
  );
  await outcomes.idle();
  return batch.length;
}

/**
 * Takes due messages in one short statement: the rows are locked (SKIP LOCKED, so concurrent
 * workers take disjoint sets) only while their lease is written, never across the network.
 */
export async function claimDue(app: App, limit: number, channel: Message['channel'] = 'email'): Promise<Message[]> {
  const now = app.clock.now();
  const { rows } = await sql<Message>`
    update messages set next_attempt_at = ${new Date(now.getTime() + LEASE_MS)}, attempts = attempts + 1
    where id in (
      select id from messages
      where sent_at is null and channel = ${channel} and next_attempt_at <= ${now}
      order by next_attempt_at
      limit ${limit}
      for update skip locked)
    returning *`.execute(app.database.db);
  return rows;
}

export type SuppressionRow = Pick<Suppression, 'id' | 'reason' | 'source' | 'created_at'>;

/**
 * Suppressions of the claimed recipients, in one query (keyed `tenant address`): an address may
 * have been suppressed while its message waited (a bounce or complaint of another message).
 */
export async function suppressionsOf(app: App, batch: readonly Message[]): Promise<Map<string, SuppressionRow>> {
  const rows = await app.database.db
    .selectFrom('suppressions')
    .select(['tenant_id', 'address', 'id', 'reason', 'source', 'created_at'])
    .where('tenant_id', 'in', [...new Set(batch.map((m) => m.tenant_id))])
    .where('address', 'in', [...new Set(batch.map((m) => m.recipient_key))])
    .execute();
  return new Map(rows.map((r) => [`${r.tenant_id} ${r.address}`, r]));
}

/** Nothing is sent to an address suppressed while its message waited (email and SMS workers). */
export function writeRejected(app: App, outcomes: OutcomeWriter, msg: Message, suppression: SuppressionRow): void {
  outcomes.write(msg, {
    type: 'rejected',
    occurredAt: app.clock.now(),
    source: 'send',
    dedupeKey: 'send:rejected',
    data: { suppression: { id: suppression.id, reason: suppression.reason, source: suppression.source, since: suppression.created_at } },
  }, { next_attempt_at: null });
}

async function sendOne(app: App, transport: Transporter, outcomes: OutcomeWriter, msg: Message, suppression: SuppressionRow | undefined): Promise<void> {
  const log = app.log.child({ role: 'worker', job: 'send', message_id: msg.id });
  if (suppression) return writeRejected(app, outcomes, msg, suppression);

  const attempt = msg.attempts;
  const relay = new URL(app.config.MAILTRAIL_SMTP_RELAY_URL ?? 'smtp://unset').host;
  // Proof commitments (src/proof/commitments.ts): the salt first, the digest of the bytes as sent.
  const salt = await saltOf(app.database.db, msg.id);
  const sent: SentBytes = { digest: null };
  try {
    const info = await transport.sendMail({ ...composeMessage(app, msg), [SENT_BYTES_OPTION]: sent } as SendMailOptions);
    const at = app.clock.now();
    outcomes.write(msg, {
      type: 'sent',
      occurredAt: at,
      source: 'send',
      dedupeKey: `send:${attempt}:sent`,
      data: { attempt, relay, response: String(info.response ?? '').slice(0, 2000), ...emailCommitment(msg, salt, sent.digest) },
    }, { sent_at: at, next_attempt_at: new Date(at.getTime() + app.config.MAILTRAIL_DELIVERED_AFTER), last_error: null });
  } catch (err) {
    const at = app.clock.now();
    const f = relayFailure(err, msg.recipient);
    const details = { attempt, relay, reason: f.reason, bounce_class: f.bounce_class, status: f.status, replycode: f.replycode, diagnostic: f.diagnostic, command: f.command, evidence: f.evidence, ...emailCommitment(msg, salt, sent.digest) };
    const lastError = `${f.replycode || f.evidence[0]?.matched || 'error'} ${f.diagnostic}`.slice(0, 500);
    if (f.permanent) {
      outcomes.write(msg, { type: 'bounced', occurredAt: at, source: 'send', dedupeKey: `send:${attempt}:bounced`, data: { ...details, synchronous: true } }, { next_attempt_at: null, last_error: lastError });
      return;
    }
    const expired = at.getTime() - msg.created_at.getTime() >= app.config.MAILTRAIL_SEND_MAX_AGE;
    if (expired) {
      outcomes.write(msg, {
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
    outcomes.write(msg, { type: 'deferred', occurredAt: at, source: 'send', dedupeKey: `send:${attempt}:deferred`, data: { ...details, retry_at: retryAt } }, { next_attempt_at: retryAt, last_error: lastError });
  }
}
