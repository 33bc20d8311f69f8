import type { Kysely } from 'kysely';
import { isUuid } from '../core/ids.js';
import { addressKey } from '../core/address.js';
import { hasTag, parseTaggedId, parseUnsubscribeMailto, parseVerpAddress, verifyToken } from '../core/tokens.js';
import type { DB } from '../db/types.js';
import type { Report, ReportRecipient } from '../parsers/report.js';
import type { InboundEnvelope } from './types.js';

/** The part of a message row correlation needs. */
export interface Target {
  id: string;
  tenant_id: string;
  recipient_key: string;
}

/** Which rule attached the report, in the order they are tried. */
export type CorrelationRule = 'verp' | 'message-id' | 'return-path' | 'envelope-id' | 'mailtrail-id';

export interface Assignment {
  message: Target;
  /** The report's recipients that concern this message. */
  recipients: ReportRecipient[];
}

export interface Correlation {
  rule: CorrelationRule | null;
  assignments: Assignment[];
  /** Messages whose mailto-unsubscribe address the mail was sent to. */
  unsubscribe: Target[];
}

export interface CorrelateKeys {
  secret: string;
  domains: readonly string[];
}

/** Kinds that are reports about a delivery, never a person asking to unsubscribe. */
const MACHINE_KINDS = new Set(['bounce', 'delivery-success-dsn', 'auto-reply', 'feedback-report']);

/**
 * Finds the messages a report is about. Signed identifiers first, each checked by its HMAC:
 * (1) our VERP envelope recipient; then what the returned message says: (2) our tagged
 * Message-ID, (3) the VERP Return-Path, (4) a signed Original-Envelope-Id, (5) a tagged
 * X-Mailtrail-Id. Then unsigned ones, which anyone who has read a message's UUID could write: an
 * untagged Message-ID, a bare UUID as ENVID or X-Mailtrail-Id; they name only messages sent
 * before ids were tagged, and only when a recipient of the report is that message's recipient.
 * Tampered or unknown ids name no row and so attach nothing. Whatever attached it, a message
 * only ever gets report recipients that are its own (`assign`).
 */
export async function correlate(
  db: Kysely<DB>,
  keys: CorrelateKeys,
  report: Report,
  envelope: InboundEnvelope,
  known?: KnownMessages,
): Promise<Correlation> {
  const { verpIds, unsubIds } = envelopeIds(keys, report, envelope);
  const named = await messagesById(db, [...verpIds, ...unsubIds], known);
  const unsubscribe = named.filter((m) => unsubIds.has(m.id));
  const done = (rule: CorrelationRule, found: Target[], signed: boolean): Correlation => ({
    rule,
    assignments: assign(found, report.recipients, signed),
    unsubscribe,
  });
  const original = report.original;

  const byVerp = named.filter((m) => verpIds.has(m.id));
  if (byVerp.length > 0) return done('verp', byVerp, true);

  // The signed ids the returned message carries, in the order above.
  const signedSteps: Array<[CorrelationRule, string | null]> = [
    ['message-id', parseTaggedId(keys.secret, original.message_id)],
    ['return-path', parseVerpAddress(keys.secret, stripBrackets(original.envelope_from), keys.domains)],
    ['envelope-id', signedEnvid(keys, original.original_envelope_id)],
    ['mailtrail-id', parseTaggedId(keys.secret, original.mailtrail_id)],
  ];
  for (const [rule, id] of signedSteps) {
    const found = id ? await messagesById(db, [id]) : [];
    if (found.length > 0) return done(rule, found, true);
  }

  const bareMessageId = stripBrackets(original.message_id);
  const unsignedSteps: Array<[CorrelationRule, 'id' | 'message_id_header', string[]]> = [
    ['message-id', 'message_id_header', bareMessageId && bareMessageId.length <= 998 ? [bareMessageId, `<${bareMessageId}>`] : []],
    ['envelope-id', 'id', bareUuid(original.original_envelope_id)],
    ['mailtrail-id', 'id', bareUuid(original.mailtrail_id)],
  ];
  for (const [rule, column, values] of unsignedSteps) {
    const found = agreeing(await untaggedMessages(db, column, values), report);
    if (found.length > 0) return done(rule, found, false);
  }

  return { rule: null, assignments: [], unsubscribe };
}

/** The messages named by signed envelope recipients: VERP addresses and mailto-unsubscribes. */
function envelopeIds(keys: CorrelateKeys, report: Pick<Report, 'kind'>, envelope: Pick<InboundEnvelope, 'rcptTo'>) {
  const verpIds = new Set<string>();
  const unsubIds = new Set<string>();
  for (const rcpt of envelope.rcptTo) {
    const verp = parseVerpAddress(keys.secret, rcpt, keys.domains);
    if (verp) verpIds.add(verp);
    const unsub = parseUnsubscribeMailto(keys.secret, rcpt, keys.domains);
    if (unsub && !MACHINE_KINDS.has(report.kind)) unsubIds.add(unsub);
  }
  return { verpIds, unsubIds };
}

/** Message rows by id, fetched ahead for a batch of reports; null: no such message. */
export type KnownMessages = ReadonlyMap<string, Target | null>;

/**
 * The messages the envelopes of a batch of reports name, in one query, for `correlate` to use
 * instead of one query per report (the common case: every DSN to a VERP address).
 */
export async function envelopeTargets(
  db: Kysely<DB>,
  keys: CorrelateKeys,
  items: ReadonlyArray<{ report: Pick<Report, 'kind'>; envelope: Pick<InboundEnvelope, 'rcptTo'> }>,
): Promise<KnownMessages> {
  const ids = new Set<string>();
  for (const { report, envelope } of items) {
    const { verpIds, unsubIds } = envelopeIds(keys, report, envelope);
    for (const id of [...verpIds, ...unsubIds]) ids.add(id);
  }
  const known = new Map<string, Target | null>([...ids].map((id) => [id, null]));
  for (const m of await messagesById(db, [...ids])) known.set(m.id, m);
  return known;
}

/** Our ENVID may be the VERP token or address, or the tagged id (signed). */
function signedEnvid(keys: CorrelateKeys, value: string): string | null {
  const envid = stripBrackets(value);
  if (!envid) return null;
  return parseVerpAddress(keys.secret, envid, keys.domains) ?? verifyToken(keys.secret, 'verp', envid)?.messageId ?? parseTaggedId(keys.secret, envid);
}

/** A bare UUID (an unsigned ENVID or X-Mailtrail-Id), as a list of none or one. */
function bareUuid(value: string): string[] {
  const id = stripBrackets(value).toLowerCase();
  return isUuid(id) ? [id] : [];
}

/**
 * The messages an unsigned id may name: only those sent before ids were tagged (their Message-ID
 * is a bare `<uuid@domain>`). A message sent with a tagged id never handed out a bare one, so a
 * bare id naming it was written by someone who read its UUID elsewhere (an API answer, a link).
 */
async function untaggedMessages(db: Kysely<DB>, column: 'id' | 'message_id_header', values: string[]): Promise<Target[]> {
  if (values.length === 0) return [];
  const rows = await db.selectFrom('messages').select(['id', 'tenant_id', 'recipient_key', 'message_id_header']).where(column, 'in', values).execute();
  return rows.filter((m) => !hasTag(m.message_id_header ?? '')).map((m) => ({ id: m.id, tenant_id: m.tenant_id, recipient_key: m.recipient_key }));
}

/** Keeps the messages whose recipient a recipient of the report is (the check for unsigned ids). */
function agreeing(found: Target[], report: Pick<Report, 'recipients'>): Target[] {
  if (found.length === 0) return [];
  const named = new Set(report.recipients.map((r) => recipientKey(r)).filter((k) => k !== null));
  return found.filter((m) => named.has(m.recipient_key));
}

async function messagesById(db: Kysely<DB>, ids: string[], known?: KnownMessages): Promise<Target[]> {
  if (ids.length === 0) return [];
  if (known && ids.every((id) => known.has(id))) return [...new Set(ids)].map((id) => known.get(id)).filter((m): m is Target => !!m);
  return db.selectFrom('messages').select(['id', 'tenant_id', 'recipient_key']).where('id', 'in', ids).execute();
}

function stripBrackets(v: string): string {
  return v.trim().replace(/^<(.*)>$/, '$1').trim();
}

/**
 * What each message gets of the report's recipients: the one that names its own address, and
 * nothing else, so one report yields at most one event per message however many recipients it
 * lists (a 5,000-recipient DSN about our message is one event; the others stay in the stored
 * parse as evidence). A recipient the report leaves unnamed (an ARF report that redacts it) goes
 * to the message only when a signed id attached the report.
 */
export function assign(messages: readonly Target[], recipients: readonly ReportRecipient[], signed: boolean): Assignment[] {
  // Each recipient's key once: a report may list thousands, and several messages look them up.
  const keys = recipients.map(recipientKey);
  const unnamed = signed ? recipients.find((_, i) => keys[i] === null) : undefined;
  return messages.map((message) => {
    const i = keys.indexOf(message.recipient_key);
    const mine = i >= 0 ? recipients[i] : unnamed;
    return { message, recipients: mine ? [mine] : [] };
  });
}

/** A report recipient as a suppression key (lower case, punycode domain), null when it names nobody. */
function recipientKey(r: Pick<ReportRecipient, 'recipient'>): string | null {
  return r.recipient ? addressKey(r.recipient) : null;
}
