import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Config } from './config/load.js';
import type { Database } from './db/connect.js';
import type { Log } from './log.js';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Everything a role needs, wired in one place (cli.ts and the tests build it the same way). */
export interface App {
  config: Config;
  database: Database;
  log: Log;
  clock: Clock;
  /** HMAC key for tokens (src/core/tokens.ts). */
  secret: string;
  metrics: Registry;
}

export interface AppParts {
  config: Config;
  database: Database;
  log: Log;
  secret: string;
  clock?: Clock;
}

export function createApp(parts: AppParts): App {
  const metrics = new Registry();
  if (parts.config.MAILTRAIL_METRICS) collectDefaultMetrics({ register: metrics, prefix: 'mailtrail_' });
  return { ...parts, clock: parts.clock ?? systemClock, metrics };
}
