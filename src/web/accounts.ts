import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { uuidv7 } from '../core/ids.js';
import type { DB, UsersTable } from '../db/types.js';
import type { Selectable } from 'kysely';
import { hashPassword } from './password.js';

export type User = Selectable<UsersTable>;

/** What the dashboard knows of the signed-in person. */
export interface Viewer {
  user: User;
  sessionId: string;
  csrf: string;
  /** null for an operator: every tenant. */
  tenantId: string | null;
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function isEmailLike(email: string): boolean {
  return email.length <= 320 && /^[^\s@<>"]+@[^\s@<>"]+$/.test(email);
}

export async function createUser(
  db: Kysely<DB>,
  u: { email: string; tenantId: string | null; password: string; mustChange: boolean },
): Promise<User> {
  return db
    .insertInto('users')
    .values({
      id: uuidv7(),
      email: normalizeEmail(u.email),
      role: u.tenantId ? 'tenant' : 'operator',
      tenant_id: u.tenantId,
      password_hash: await hashPassword(u.password),
      must_change_password: u.mustChange,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findUserByEmail(db: Kysely<DB>, email: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('email', '=', normalizeEmail(email)).executeTakeFirst();
}

export const sessionKey = (token: string) => createHash('sha256').update(token).digest('hex');

/** A new session: the token goes in the cookie, its hash in the database. */
export async function openSession(db: Kysely<DB>, userId: string, ttlMs: number, now: Date): Promise<{ token: string; csrf: string }> {
  const token = randomBytes(32).toString('base64url');
  const csrf = randomBytes(24).toString('base64url');
  await db
    .insertInto('user_sessions')
    .values({ id: sessionKey(token), user_id: userId, csrf, created_at: now, expires_at: new Date(now.getTime() + ttlMs) })
    .execute();
  // Expired sessions of this user go when they log in again: the table stays small without a sweeper.
  await db.deleteFrom('user_sessions').where('user_id', '=', userId).where('expires_at', '<', now).execute();
  return { token, csrf };
}

/** The viewer behind a cookie token, or null when unknown, expired or the user is disabled. */
export async function sessionViewer(db: Kysely<DB>, token: string, now: Date): Promise<Viewer | null> {
  const id = sessionKey(token);
  const row = await db
    .selectFrom('user_sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .selectAll('u')
    .select(['s.csrf', 's.expires_at'])
    .where('s.id', '=', id)
    .executeTakeFirst();
  if (!row || new Date(row.expires_at) <= now || row.disabled_at) return null;
  const { csrf, expires_at: _e, ...user } = row;
  return { user, sessionId: id, csrf, tenantId: user.role === 'operator' ? null : user.tenant_id };
}

export async function closeSession(db: Kysely<DB>, sessionId: string): Promise<void> {
  await db.deleteFrom('user_sessions').where('id', '=', sessionId).execute();
}

/** Records one dashboard change: who, what, when, from where. */
export async function audit(
  db: Kysely<DB>,
  viewer: Pick<Viewer, 'user'>,
  entry: { action: string; tenantId?: string | null; target?: string; data?: Record<string, unknown>; ip?: string },
): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      user_id: viewer.user.id,
      user_email: viewer.user.email,
      tenant_id: entry.tenantId ?? viewer.user.tenant_id,
      action: entry.action,
      target: entry.target ?? null,
      data: JSON.stringify(entry.data ?? {}),
      ip: entry.ip ?? null,
    })
    .execute();
}
