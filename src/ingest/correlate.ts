import type { Kysely } from 'kysely';
import { isUuid } from '../core/ids.js';
import { parseUnsubscribeMailto, parseVerpAddress, verifyToken } from '../core/tokens.js';
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
 * Finds the messages a report is about. Signed identifiers first: (1) our VERP envelope recipient;
 * then what the returned message says: (2) our Message-ID, or the VERP Return-Path in the returned
 * headers; (3) Original-Envelope-Id. Unsigned ids (an ENVID or X-Mailtrail-Id holding a bare
 * message UUID) count only when a recipient of the report is that message's recipient. Tampered
 * or unknown tokens name no row and so attach nothing.
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
  const done = (rule: CorrelationRule, found: Target[]): Correlation => ({
    rule,
    assignments: assign(found, report.recipients),
    unsubscribe,
  });

  const byVerp = named.filter((m) => verpIds.has(m.id));
  if (byVerp.length > 0) return done('verp', byVerp);

  const original = report.original;
  const byMessageId = await messagesByMessageId(db, original.message_id);
  if (byMessageId.length > 0) return done('message-id', byMessageId);

  const returnPath = parseVerpAddress(keys.secret, stripBrackets(original.envelope_from), keys.domains);
  const byReturnPath = returnPath ? await messagesById(db, [returnPath]) : [];
  if (byReturnPath.length > 0) return done('return-path', byReturnPath);

  const byEnvid = await messagesByEnvid(db, keys, report);
  if (byEnvid.length > 0) return done('envelope-id', byEnvid);

  const byHeader = isUuid(original.mailtrail_id.trim().toLowerCase())
    ? agreeing(await messagesById(db, [original.mailtrail_id.trim().toLowerCase()]), report)
    : [];
  if (byHeader.length > 0) return done('mailtrail-id', byHeader);

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

async function messagesByEnvid(db: Kysely<DB>, keys: CorrelateKeys, report: Report): Promise<Target[]> {
  const envid = stripBrackets(report.original.original_envelope_id);
  if (!envid) return [];
  // Our ENVID may be the VERP token or address (signed), or the bare message id (unsigned).
  const signed = parseVerpAddress(keys.secret, envid, keys.domains) ?? verifyToken(keys.secret, 'verp', envid)?.messageId;
  if (signed) return messagesById(db, [signed]);
  const id = envid.toLowerCase();
  return isUuid(id) ? agreeing(await messagesById(db, [id]), report) : [];
}

/** Keeps the messages a recipient of the report (or the returned To) names. */
function agreeing(found: Target[], report: Report): Target[] {
  const named = new Set(report.recipients.map((r) => r.recipient?.toLowerCase()).filter(Boolean));
  const to = report.original.to.toLowerCase();
  return found.filter((m) => named.has(m.recipient_key) || (to !== '' && to.includes(m.recipient_key)));
}

async function messagesById(db: Kysely<DB>, ids: string[], known?: KnownMessages): Promise<Target[]> {
  if (ids.length === 0) return [];
  if (known && ids.every((id) => known.has(id))) return [...new Set(ids)].map((id) => known.get(id)).filter((m): m is Target => !!m);
  return db.selectFrom('messages').select(['id', 'tenant_id', 'recipient_key']).where('id', 'in', ids).execute();
}

async function messagesByMessageId(db: Kysely<DB>, messageId: string): Promise<Target[]> {
  const bare = stripBrackets(messageId);
  if (!bare || bare.length > 998) return [];
  return db
    .selectFrom('messages')
    .select(['id', 'tenant_id', 'recipient_key'])
    .where('message_id_header', 'in', [bare, `<${bare}>`])
    .execute();
}

function stripBrackets(v: string): string {
  return v.trim().replace(/^<(.*)>$/, '$1').trim();
}

/**
 * Gives each message the report recipients that name its address. Recipients naming none of them
 * (an alias rewrote the address, an ARF report redacted it) go to the messages left without one.
 */
export function assign(messages: readonly Target[], recipients: readonly ReportRecipient[]): Assignment[] {
  const out = messages.map((message) => ({ message, recipients: [] as ReportRecipient[] }));
  const leftovers: ReportRecipient[] = [];
  for (const r of recipients) {
    const key = r.recipient?.toLowerCase();
    const hits = key ? out.filter((a) => a.message.recipient_key === key) : [];
    if (hits.length === 0) leftovers.push(r);
    for (const a of hits) a.recipients.push(r);
  }
  if (leftovers.length > 0) {
    for (const a of out) if (a.recipients.length === 0) a.recipients.push(...leftovers);
  }
  return out;
}
