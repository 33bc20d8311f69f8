import { generateKeyPairSync } from 'node:crypto';
import { dialect, freshDatabase, TEST_SECRET } from './app.js';

export interface CliTestEnv {
  env: Record<string, string>;
  /** Drops the fresh database (real Postgres); nothing to do on PGlite. */
  drop(): Promise<void>;
}

/**
 * Environment for `mailtrail` child processes on this run's dialect: the data dir, and with real
 * Postgres a fresh database plus the HMAC secret and checkpoint key every node must share.
 */
export async function cliTestEnv(dataDir: string, extra: Record<string, string> = {}): Promise<CliTestEnv> {
  const env = { MAILTRAIL_DATA_DIR: dataDir, ...extra };
  if (dialect !== 'pg') return { env, drop: async () => {} };
  const pg = await freshDatabase();
  await pg.database.close();
  const proofKey = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    env: { ...env, DATABASE_URL: pg.url!, MAILTRAIL_SECRET: TEST_SECRET, MAILTRAIL_PROOF_PRIVATE_KEY: proofKey },
    drop: () => pg.drop().catch(() => {}),
  };
}
