import { isUuid } from '../core/ids.js';

/**
 * Keyset pagination over UUIDv7 ids: the cursor is the last id of the page, opaque to clients.
 * New rows get larger ids, so pages walked newest-first never shift while rows are inserted.
 */
export function encodeCursor(lastId: string): string {
  return Buffer.from(lastId, 'utf8').toString('base64url');
}

/** The id a cursor stands for, or null when it was not made by encodeCursor. */
export function decodeCursor(cursor: string): string | null {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  return isUuid(id) ? id : null;
}

/**
 * The smallest UUIDv7 of a millisecond: `id >= idFloor(t)` selects rows created at or after t,
 * using the (tenant_id, id) index instead of a scan on created_at.
 */
export function idFloor(at: Date): string {
  const h = Math.max(0, Math.min(at.getTime(), 0xffffffffffff)).toString(16).padStart(12, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-0000-0000-000000000000`;
}
