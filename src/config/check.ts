import { existsSync } from 'node:fs';
import { resolveProofKey } from '../proof/keys.js';
import { tlsCredentials } from '../smtp/tls.js';
import { ConfigError, type Config } from './load.js';
import { resolveSecret } from './secret.js';

/**
 * What start-up needs beyond each setting's own schema (settings that require each other, keys
 * that must be readable), found all at once: switching to real Postgres names both the missing
 * MAILTRAIL_SECRET and the missing checkpoint key in one error, not one per start. Each check is
 * the resolver start-up itself runs, called only where it writes nothing (the embedded mode's
 * generated secret, key and certificate are created by start-up, not by a check).
 */
export async function startupProblems(config: Config): Promise<string[]> {
  const checks: Array<() => unknown> = [];
  if (config.DATABASE_URL) checks.push(() => resolveSecret(config));
  const keyFile = config.MAILTRAIL_PROOF_KEY_FILE;
  if (config.DATABASE_URL || config.MAILTRAIL_PROOF_PRIVATE_KEY || (keyFile && existsSync(keyFile))) checks.push(() => resolveProofKey(config));
  if (config.MAILTRAIL_SMTP_TLS_CERT || config.MAILTRAIL_SMTP_TLS_KEY) checks.push(() => tlsCredentials(config));
  const problems: string[] = [];
  for (const check of checks) {
    try {
      await check();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  }
  return problems;
}

/** Throws one ConfigError listing every start-up problem (see startupProblems). */
export async function assertStartable(config: Config): Promise<void> {
  const problems = await startupProblems(config);
  if (problems.length) throw new ConfigError(problems);
}
