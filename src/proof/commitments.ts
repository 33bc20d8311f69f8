import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB, Message } from '../db/types.js';
import { canonicalJson, sha256Hex, type JsonValue } from './canonical.js';

/**
 * Commitments (proof format 2): what a message's `sent` event binds about what was handed to the
 * relay or SMSC, without holding any personal value in clear. Content bytes are hashed as they
 * are; personal fields are salted with one random salt per message, kept outside the chain
 * (proof_salts), so whoever is given the salt and the value can check it, and once erasure
 * deletes the salt nobody can test a guess against the trail.
 */

export const COMMITMENT_FORMAT = 'mailtrail-commitment/1';

/** The personal fields a commitment may hold, each as saltedHash(salt, field, value). */
export const SALTED_FIELDS = ['sender', 'recipient', 'subject', 'variables', 'text'] as const;
export type SaltedField = (typeof SALTED_FIELDS)[number];

/**
 * sha256 hex of the canonical JSON `{"field":…,"salt":…,"value":…}`: the field name is in the
 * hash, so one salt never makes two fields' hashes comparable.
 * Example: saltedHash('ab…', 'recipient', 'jane@example.com').
 */
export function saltedHash(salt: string, field: string, value: string): string {
  return sha256Hex(canonicalJson({ field, salt, value }));
}

/** 32 random bytes, hex. */
export function newSalt(): string {
  return randomBytes(32).toString('hex');
}

export interface EmailSent {
  /** sha256 hex and length of the exact message bytes handed to the relay (MIME after DKIM). */
  sha256: string;
  size: number;
}

export interface CommitmentInput {
  channel: 'email' | 'sms';
  salt: string;
  sender: string | null;
  recipient: string;
  subject: string | null;
  /** Email: the MIME as sent. SMS: the UTF-8 text (its segments are committed one by one). */
  bytes: EmailSent;
  /** SMS: sha256 hex of each segment's payload as submitted, in order. */
  segments?: string[];
  /** SMS: the text itself, salted (a short text is easy to guess from its plain hash). */
  text?: string;
  template_version_id?: string | null;
  variables?: JsonValue | null;
}

/** The commitment object put in the `sent` event's `data.commitment`. */
export function commitment(c: CommitmentInput): JsonValue {
  const salted = (field: SaltedField, value: string | null) => (value === null ? null : saltedHash(c.salt, field, value));
  return {
    format: COMMITMENT_FORMAT,
    channel: c.channel,
    bytes_sha256: c.bytes.sha256,
    bytes_size: c.bytes.size,
    sender: salted('sender', c.sender),
    recipient: salted('recipient', c.recipient),
    subject: salted('subject', c.subject),
    ...(c.text !== undefined ? { text: salted('text', c.text) } : {}),
    ...(c.segments ? { segments_sha256: c.segments } : {}),
    template_version_id: c.template_version_id ?? null,
    variables: c.variables === undefined || c.variables === null ? null : salted('variables', canonicalJson(c.variables)),
  };
}

/** The values that open a commitment: its salt and the clear fields (attestation, `export --open`). */
export interface Opening {
  message_id: string;
  salt: string;
  values: Partial<Record<SaltedField, string>>;
}

/**
 * Checks an opening against a commitment: one line per field that does not match, empty when
 * every given value is the one committed. A field committed as null must be opened as absent.
 */
export function checkOpening(committed: Record<string, unknown>, opening: Opening): string[] {
  const wrong: string[] = [];
  for (const field of SALTED_FIELDS) {
    const value = opening.values[field];
    if (value === undefined) continue;
    const expected = committed[field];
    if (typeof expected !== 'string') wrong.push(`${field}: the commitment holds no ${field}`);
    else if (saltedHash(opening.salt, field, value) !== expected) wrong.push(`${field}: the value given is not the one committed`);
  }
  return wrong;
}

/**
 * The message's salt, created on first use. Written before the bytes leave, so a crash between
 * the send and the outcome still leaves the salt that the retried attempt will use again.
 */
export async function saltOf(db: Kysely<DB>, messageId: string): Promise<string> {
  // The no-op update makes `returning` give the stored salt when there is one: one round trip.
  const row = await db
    .insertInto('proof_salts')
    .values({ message_id: messageId, salt: newSalt() })
    .onConflict((oc) => oc.column('message_id').doUpdateSet({ salt: (eb) => eb.ref('proof_salts.salt') }))
    .returning('salt')
    .executeTakeFirstOrThrow();
  return row.salt;
}

/**
 * `{ commitment }` for an outcome's event data when the relay was handed the whole message,
 * `{}` when it was not (a refusal before DATA hands over no content to bind).
 */
export function emailCommitment(msg: Message, salt: string, digest: EmailSent | null): { commitment?: JsonValue } {
  if (!digest) return {};
  const content = msg.content as { template_version_id?: unknown; variables?: unknown };
  return {
    commitment: commitment({
      channel: 'email',
      salt,
      sender: msg.from_address,
      recipient: msg.recipient,
      subject: msg.subject,
      bytes: digest,
      template_version_id: typeof content.template_version_id === 'string' ? content.template_version_id : null,
      variables: (content.variables ?? null) as JsonValue | null,
    }),
  };
}
