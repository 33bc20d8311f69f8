import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/types.js';
import { signCheckpoint, type ProofKey } from './keys.js';

export interface CheckpointOptions {
  /** Only chains whose last checkpoint is at least this old (ms); 0 = any chain with new entries. */
  minAgeMs?: number;
  /** Only this chain. */
  chain?: string;
}

/**
 * Signs a checkpoint (head, entry count, time) of every chain that grew since its last one by
 * this key (after a key rotation, a chain gets its first new-key checkpoint once it grows). Any
 * node may run it: two nodes signing the same head write it once. Returns how many it signed.
 */
export async function signCheckpoints(db: Kysely<DB>, key: ProofKey, now: Date, opts: CheckpointOptions = {}): Promise<number> {
  const cutoff = new Date(now.getTime() - (opts.minAgeMs ?? 0));
  const { rows } = await sql<{ chain: string; seq: number; head: string }>`
    select c.chain, c.seq, c.head
    from proof_chains c
    left join lateral (
      select k.seq, k.at from proof_checkpoints k where k.chain = c.chain and k.key_id = ${key.keyId} order by k.seq desc limit 1
    ) last on true
    where c.seq > coalesce(last.seq, 0)
      and (last.at is null or last.at <= ${cutoff})
      ${opts.chain === undefined ? sql`` : sql`and c.chain = ${opts.chain}`}`.execute(db);
  let signed = 0;
  for (const c of rows) {
    const seq = Number(c.seq);
    const r = await db
      .insertInto('proof_checkpoints')
      .values({ chain: c.chain, seq, head: c.head, at: now, ...signCheckpoint(key, { chain: c.chain, seq, head: c.head, at: now }) })
      .onConflict((oc) => oc.columns(['chain', 'seq']).doNothing())
      .executeTakeFirst();
    signed += Number(r.numInsertedOrUpdatedRows ?? 0);
  }
  return signed;
}
