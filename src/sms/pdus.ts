import { concatUdh, DATA_CODING, planSms } from '../core/sms-encoding.js';
import type { SubmitRequest } from './smsc-link.js';

const ESM_UDHI = 0x40;

/**
 * The submit_sm PDUs of one SMS: one per segment with an 8-bit concatenation UDH (or a single
 * PDU with message_payload when `payload` is set), data_coding always explicit, the number in
 * international form (TON 1, NPI 1, no `+`).
 *
 * @example submitsFor('+33612345678', 'Acme', 'Hi', 7, false) → [{ destination: '33612345678', source: 'Acme', sourceTon: 5, dataCoding: 0, ... }]
 */
export function submitsFor(e164: string, from: string, text: string, ref: number, payload: boolean): SubmitRequest[] {
  const plan = planSms(text);
  const base = { destination: e164.replace(/^\+/, ''), ...sourceOf(from), dataCoding: DATA_CODING[plan.encoding] };
  if (plan.segments.length === 1) return [{ ...base, esmClass: 0, shortMessage: plan.segments[0] }];
  if (payload) return [{ ...base, esmClass: 0, shortMessage: Buffer.alloc(0), messagePayload: Buffer.concat(plan.segments) }];
  const total = plan.segments.length;
  return plan.segments.map((seg, i) => ({ ...base, esmClass: ESM_UDHI, shortMessage: Buffer.concat([concatUdh(ref, total, i + 1), seg]) }));
}

/** Sender id → TON/NPI: alphanumeric (5/0), short code (3/0), else an international number (1/1). */
function sourceOf(from: string): { source: string; sourceTon: number; sourceNpi: number } {
  if (!/^\+?\d+$/.test(from)) return { source: from, sourceTon: 5, sourceNpi: 0 };
  const digits = from.replace(/^\+/, '');
  if (!from.startsWith('+') && digits.length <= 8) return { source: digits, sourceTon: 3, sourceNpi: 0 };
  return { source: digits, sourceTon: 1, sourceNpi: 1 };
}
