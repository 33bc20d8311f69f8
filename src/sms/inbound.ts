import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { sql, type Transaction } from 'kysely';
import type { App } from '../app.js';
import { checkPhoneNumber } from '../core/phone.js';
import { MESSAGE_STATES, parseReceiptText, receiptOutcome, type ReceiptText } from '../core/sms-receipt.js';
import { isStopRequest } from '../core/sms-stop.js';
import { appendEvents, type NewEvent } from '../db/events.js';
import type { DB } from '../db/types.js';
import { inTransaction } from '../ingest/ingest.js';
import { suppressAfter } from '../ingest/suppress.js';
import { chainStoredReports } from '../proof/chain.js';
import type { InboundSm } from './smsc-link.js';

const MAX_TEXT = 1_000;
/** esm_class bits 2-5: 0x04 SMSC delivery receipt, 0x08 SME acknowledgement, 0x20 intermediate notification. */
const RECEIPT_TYPES = new Set([0x04, 0x08, 0x20]);

export type InboundResult =
  | { kind: 'receipt'; reportId: number; duplicate: boolean; messageId: string | null; event: string | null }
  | { kind: 'mo'; reportId: number; duplicate: boolean; messageId: string | null; event: string | null };

/**
 * Stores one deliver_sm/data_sm (raw, like an email report: gzip of its fields, chained into the
 * system proof chain) and applies it in the same transaction: a receipt updates its part and,
 * once final, the message (`delivered` when every part is, `bounced` on the first failed part);
 * an inbound SMS goes to the tenant's latest SMS to that number as `unsubscribed` (STOP words,
 * plus a suppression) or `replied`. What matches nothing is kept as uncorrelated.
 */
export async function storeInbound(app: App, smsc: string, sm: InboundSm): Promise<InboundResult> {
  return inTransaction(app, (trx) => storeOne(trx, app, smsc, sm));
}

/**
 * Several inbound PDUs in one transaction (the tenant lock is taken once, not once per receipt:
 * receipts of one tenant would otherwise queue on it one commit at a time). If the batch fails,
 * each is stored alone, so one bad PDU does not hold back the others; the results keep the order.
 */
export async function storeInboundBatch(app: App, items: ReadonlyArray<{ smsc: string; sm: InboundSm }>): Promise<Array<InboundResult | Error>> {
  try {
    return await inTransaction(app, async (trx) => {
      const out: InboundResult[] = [];
      for (const it of items) out.push(await storeOne(trx, app, it.smsc, it.sm));
      return out;
    });
  } catch (err) {
    if (items.length === 1) return [err instanceof Error ? err : new Error(String(err))];
    const out: Array<InboundResult | Error> = [];
    for (const it of items) out.push(await storeInbound(app, it.smsc, it.sm).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))));
    return out;
  }
}

async function storeOne(trx: Transaction<DB>, app: App, smsc: string, sm: InboundSm): Promise<InboundResult> {
  const receivedAt = app.clock.now();
  const parsed = parseReceiptText(sm.text);
  const isReceipt = RECEIPT_TYPES.has(sm.esmClass & 0x3c) || (sm.receiptedMessageId !== null && parsed !== null);
  const fields = { smsc, ...sm, text: sm.text };
  const raw = Buffer.from(JSON.stringify(isReceipt ? fields : { ...fields, received_at: receivedAt.toISOString() }));
  const sha256 = createHash('sha256').update(raw).digest('hex');
  const inserted = await trx
    .insertInto('raw_reports')
    .values({
      sha256,
      raw: gzipSync(raw),
      size: raw.length,
      source: 'sms',
      envelope: JSON.stringify({ source: 'sms', smsc, command: sm.command, source_addr: sm.sourceAddr, destination_addr: sm.destinationAddr }),
      kind: isReceipt ? 'sms-receipt' : 'sms-mo',
      parse: JSON.stringify(isReceipt ? { receipt: parsed, receipted_message_id: sm.receiptedMessageId, message_state: sm.messageState } : { stop: isStopRequest(sm.text) }),
      parser_version: 'mailtrail-sms-1',
      received_at: receivedAt,
      applied_at: receivedAt,
    })
    .onConflict((oc) => oc.column('sha256').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!inserted) {
    const existing = await trx.selectFrom('raw_reports').select('id').where('sha256', '=', sha256).executeTakeFirstOrThrow();
    return { kind: isReceipt ? 'receipt' : 'mo', reportId: existing.id, duplicate: true, messageId: null, event: null };
  }
  const reportId = inserted.id;
  const applied = isReceipt
    ? await applyReceipt(trx, app, smsc, sm, parsed, reportId, receivedAt)
    : await applyMo(trx, app, sm, sha256, reportId, receivedAt);
  if (applied.messageId) {
    await trx.updateTable('raw_reports').set({ correlated: true, tenant_id: applied.tenantId }).where('id', '=', reportId).execute();
  }
  await chainStoredReports(trx, [reportId]);
  return { kind: isReceipt ? 'receipt' : 'mo', reportId, duplicate: false, messageId: applied.messageId, event: applied.event };
}

interface Applied {
  messageId: string | null;
  tenantId: string | null;
  event: string | null;
}

async function applyReceipt(
  trx: Transaction<DB>,
  app: App,
  smsc: string,
  sm: InboundSm,
  parsed: ReceiptText | null,
  reportId: number,
  at: Date,
): Promise<Applied> {
  const smscId = sm.receiptedMessageId ?? parsed?.id ?? null;
  if (!smscId) return { messageId: null, tenantId: null, event: null };
  const part = await trx
    .selectFrom('sms_parts')
    .innerJoin('messages', 'messages.id', 'sms_parts.message_id')
    .select(['sms_parts.message_id', 'sms_parts.part', 'sms_parts.total', 'sms_parts.attempt', 'messages.tenant_id', 'messages.recipient_key'])
    .where('sms_parts.smsc_message_id', '=', smscId)
    .where('sms_parts.smsc', '=', smsc)
    .orderBy('sms_parts.submitted_at', 'desc')
    .executeTakeFirst();
  if (!part) return { messageId: null, tenantId: null, event: null };
  const stat = parsed?.stat ?? (sm.messageState !== null ? (MESSAGE_STATES[sm.messageState] ?? 'UNKNOWN') : 'UNKNOWN');
  const err = parsed?.err ?? null;
  const outcome = receiptOutcome(stat, err);
  // Lock order everywhere: the tenant first (appendEvents takes it too), then the rows.
  await trx.selectFrom('tenants').select('id').where('id', '=', part.tenant_id).forNoKeyUpdate().execute();
  await trx
    .updateTable('sms_parts')
    .set({ receipt_stat: stat, receipt_at: at })
    .where('message_id', '=', part.message_id)
    .where('part', '=', part.part)
    .execute();
  const found = { messageId: part.message_id, tenantId: part.tenant_id };
  if (!outcome.final) return { ...found, event: null };
  const common = { smsc, smsc_message_id: smscId, part: part.part, parts: part.total, stat, err, message_state: sm.messageState, pdu: sm.command, report_id: reportId };
  let event: NewEvent;
  if (outcome.type === 'delivered') {
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from sms_parts
      where message_id = ${part.message_id} and attempt = ${part.attempt} and receipt_stat = 'DELIVRD'`.execute(trx);
    if ((rows[0]?.n ?? 0) < part.total) return { ...found, event: null };
    event = { type: 'delivered', occurredAt: at, source: 'sms', reportId, dedupeKey: 'sms:receipt:delivered', data: common };
  } else {
    event = {
      type: 'bounced',
      occurredAt: at,
      source: 'sms',
      reportId,
      dedupeKey: `sms:receipt:${smscId}`,
      data: { ...common, bounce_class: outcome.bounce_class, reason: outcome.reason, evidence: outcome.evidence, ...(stat === 'EXPIRED' ? { expired: true } : {}) },
    };
  }
  const r = await appendEvents(trx, part.message_id, [event]);
  if (r && r.inserted.length > 0) {
    await suppressAfter(trx, [{ message: { id: part.message_id, tenant_id: part.tenant_id, recipient_key: part.recipient_key }, inserted: r.inserted }], app.config.MAILTRAIL_SOFT_BOUNCE_LIMIT, at);
  }
  return { ...found, event: r && r.inserted.length > 0 ? event.type : null };
}

async function applyMo(trx: Transaction<DB>, app: App, sm: InboundSm, sha256: string, reportId: number, at: Date): Promise<Applied> {
  const digits = sm.sourceAddr.trim();
  const check = checkPhoneNumber(digits.startsWith('+') ? digits : `+${digits}`);
  const number = check.ok ? check.e164 : null;
  if (!number) return { messageId: null, tenantId: null, event: null };
  // The latest SMS to that number, from the sender id the reply went to when one matches.
  const latest = await trx
    .selectFrom('messages')
    .select(['id', 'tenant_id', 'recipient_key'])
    .where('channel', '=', 'sms')
    .where('recipient_key', '=', number)
    .where('sent_at', 'is not', null)
    .orderBy(sql`(from_address = ${sm.destinationAddr} or from_address = ${`+${sm.destinationAddr}`})`, 'desc')
    .orderBy('id', 'desc')
    .executeTakeFirst();
  if (!latest) return { messageId: null, tenantId: null, event: null };
  const stop = isStopRequest(sm.text);
  const data = { from: number, to: sm.destinationAddr, text: sm.text.slice(0, MAX_TEXT), report_id: reportId };
  const event: NewEvent = stop
    ? { type: 'unsubscribed', occurredAt: at, source: 'sms', reportId, dedupeKey: `sms:mo:${sha256}`, data: { ...data, method: 'sms-stop' } }
    : { type: 'replied', occurredAt: at, source: 'sms', reportId, dedupeKey: `sms:mo:${sha256}`, data };
  const r = await appendEvents(trx, latest.id, [event]);
  if (r && r.inserted.length > 0) {
    await suppressAfter(trx, [{ message: latest, inserted: r.inserted }], app.config.MAILTRAIL_SOFT_BOUNCE_LIMIT, at);
  }
  return { messageId: latest.id, tenantId: latest.tenant_id, event: r && r.inserted.length > 0 ? event.type : null };
}
