import type { Kysely } from 'kysely';
import type { DB } from '../../src/db/types.js';

/** Polls until `check` holds: nothing here depends on how fast a loaded machine is. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Until every stored report has its effects applied. */
export function allApplied(db: Kysely<DB>, timeoutMs = 60_000): Promise<void> {
  return waitFor(
    async () => (await db.selectFrom('raw_reports').select('id').where('applied_at', 'is', null).limit(1).execute()).length === 0,
    timeoutMs,
    'stored reports to be applied',
  );
}
