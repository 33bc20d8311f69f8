import { createApp, type App, type Clock } from '../app.js';
import { assertStartable } from '../config/check.js';
import { loadConfig, type Config } from '../config/load.js';
import { resolveSecret } from '../config/secret.js';
import { connectDatabase, migrate } from '../db/connect.js';
import { createLog, type Log } from '../log.js';

export interface OpenOptions {
  /** Run pending migrations first (serve and `db migrate` do). */
  migrate?: boolean;
  log?: Log;
  clock?: Clock;
}

/** Config → secret → database → app: the start of every command that needs the database. */
export async function openApp(env: Record<string, string | undefined>, opts: OpenOptions = {}): Promise<App> {
  const config: Config = loadConfig(env);
  await assertStartable(config);
  const secret = resolveSecret(config);
  const log = opts.log ?? createLog(config.MAILTRAIL_LOG_LEVEL);
  const database = await connectDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.MAILTRAIL_DATA_DIR });
  try {
    if (opts.migrate) await migrate(database.db);
  } catch (err) {
    await database.close();
    throw err;
  }
  return createApp({ config, database, log, secret, clock: opts.clock });
}
