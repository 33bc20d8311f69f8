import type { InboundEnvelope } from '../ingest/types.js';
import { allAddresses, firstAddress } from '../parsers/address.js';
import { first, parseHeaders, toBinaryString } from '../parsers/mime.js';

/** Headers where the delivering MTA left the envelope recipient; To: is the last resort. */
const RECIPIENT_HEADERS = ['delivered-to', 'x-original-to', 'envelope-to', 'x-envelope-to', 'to'];
const MAX_HEADER_BYTES = 256 * 1024;
const MAX_RECIPIENTS = 20;

/**
 * The SMTP envelope is gone once mail sits in a mailbox; what is left of it is in the headers the
 * delivering MTA added (Return-Path, Delivered-To, X-Original-To). Ingest correlates on a VERP
 * recipient, so every address found there is passed on, first found first.
 *
 * @example imapEnvelope(raw, 'imap://bounces@mx:143/INBOX;UIDVALIDITY=7/;UID=42')
 */
export function imapEnvelope(raw: Buffer, mailbox: string): InboundEnvelope {
  const head = toBinaryString(raw.subarray(0, MAX_HEADER_BYTES));
  const end = head.indexOf('\n\n');
  const headers = parseHeaders(end < 0 ? head : head.slice(0, end));
  const rcptTo: string[] = [];
  for (const name of RECIPIENT_HEADERS) {
    for (const address of (headers.get(name) ?? []).flatMap(allAddresses)) {
      if (rcptTo.length < MAX_RECIPIENTS && !rcptTo.some((a) => a.toLowerCase() === address.toLowerCase())) rcptTo.push(address);
    }
  }
  return { source: 'imap', mailFrom: firstAddress(first(headers, 'return-path')), rcptTo, mailbox };
}
