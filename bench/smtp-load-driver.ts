/** The parent side of bench/smtp-load.ts: SMTP clients in a separate process, one batch at a time. */
import { fork } from 'node:child_process';

export interface LoadResult {
  elapsedMs: number;
  /** End of DATA → final reply, per message, in ms. */
  latencies: number[];
  replies: Record<string, number>;
}

export interface SmtpLoader {
  load(port: number, jobs: Array<{ verp: string; recipient: string }>): Promise<LoadResult>;
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
