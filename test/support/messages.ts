import type { Kysely } from 'kysely';
import { uuidv7 } from '../../src/core/ids.js';
import type { DB } from '../../src/db/types.js';

/** Inserts a bare message row for tests that need one to hang events on. */
export async function insertMessage(
  db: Kysely<DB>,
  tenantId: string,
  recipient = 'someone@example.com',
  status = 'sent',
): Promise<string> {
  const id = uuidv7();
  await db
    .insertInto('messages')
    .values({
      id,
      tenant_id: tenantId,
      channel: 'email',
      recipient,
      recipient_key: recipient.toLowerCase(),
      recipient_domain: recipient.split('@')[1] ?? null,
      status,
      stage: 0,
      metadata: '{}',
      content: '{}',
      updated_at: new Date(),
    })
    .execute();
  return id;
}
