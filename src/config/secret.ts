import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, type Config } from './load.js';

/**
 * The HMAC secret. With DATABASE_URL every node must share it, so it must come from the
 * environment; embedded mode generates it once into the data dir (mode 0600) and keeps it.
 */
export function resolveSecret(config: Config): string {
  if (config.MAILTRAIL_SECRET) return config.MAILTRAIL_SECRET;
  if (config.DATABASE_URL) {
    throw new ConfigError(
      'MAILTRAIL_SECRET: required with DATABASE_URL (all nodes must share it): set 32+ random characters, e.g. `openssl rand -hex 32`',
    );
  }
  const dir = resolve(config.MAILTRAIL_DATA_DIR);
  const file = join(dir, 'secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dir, { recursive: true });
  const secret = randomBytes(32).toString('hex');
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}
