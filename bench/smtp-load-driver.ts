/** The parent side of bench/smtp-load.ts: SMTP clients in a separate process, one batch at a time. */
import { fork } from 'node:child_process';
import type { Kysely } from 'kysely';
import { verpAddress } from '../src/core/tokens.js';
import type { DB } from '../src/db/types.js';
import { TEST_SECRET } from '../test/support/app.js';
import { insertMessage } from '../test/support/messages.js';

export interface LoadResult {
  elapsedMs: number;
  /** End of DATA → final reply, per message, in ms. */
  latencies: number[];
  replies: Record<string, number>;
}

export type LoadJob = { verp: string; recipient: string };

/** n fresh sent messages, each with the VERP address its bounce goes to. */
export async function bounceJobs(db: Kysely<DB>, tenantId: string, domain: string, n: number): Promise<LoadJob[]> {
  const out: LoadJob[] = [];
  for (let i = 0; i < n; i++) {
    const recipient = `user${i}-${Math.random().toString(36).slice(2, 8)}@remote.test`;
    const id = await insertMessage(db, tenantId, recipient);
    out.push({ verp: verpAddress(TEST_SECRET, id, domain), recipient });
  }
  return out;
}

export interface SmtpLoader {
  load(port: number, jobs: LoadJob[]): Promise<LoadResult>;
  close(): void;
}

export function smtpLoader(concurrency: number): SmtpLoader {
  const child = fork(new URL('./smtp-load.ts', import.meta.url), [], { execArgv: ['--import', 'tsx'] });
  return {
    load: (port, jobs) =>
      new Promise((resolve) => {
        child.once('message', (m) => resolve(m as LoadResult));
        child.send({ port, concurrency, jobs });
      }),
    close: () => child.kill(),
  };
}

/** The p-th percentile (nearest rank) of xs. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
