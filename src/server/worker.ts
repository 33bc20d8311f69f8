import type { App } from '../app.js';
import { ensureEventPartitions } from '../db/partitions.js';
import { webhookDeliveryJob } from '../webhooks/deliver.js';
import { sendJob } from '../send/send-job.js';
import { deliveredJob } from '../send/delivered-job.js';
import { smsSendJob } from '../sms/send-job.js';
import { trackingHitsJob } from '../tracking/hits-job.js';
import { proofCheckpointJob, proofTimestampJob, rawRetentionJob } from '../proof/jobs.js';
import { flowTransitionsJob } from '../flows/job.js';

/** A periodic job of the worker role. `run` returns how much it did (0 = idle). */
export interface Job {
  name: string;
  intervalMs: number;
  run(app: App, signal: AbortSignal): Promise<number>;
  /** Called once the worker's loops have ended: closes what the job keeps open across runs. */
  stop?(app: App): Promise<void>;
}

const partitions: Job = {
  name: 'event-partitions',
  intervalMs: 6 * 3_600_000,
  run: async (app) => {
    await ensureEventPartitions(app.database.db, app.clock.now());
    return 0;
  },
};

/** Every job the worker runs; each role of each node may run them all (they take work with SKIP LOCKED). */
export function workerJobs(): Job[] {
  return [partitions, proofCheckpointJob, proofTimestampJob, rawRetentionJob, webhookDeliveryJob, sendJob, smsSendJob, deliveredJob, trackingHitsJob, flowTransitionsJob];
}

export interface Worker {
  stop(): Promise<void>;
}

/**
 * Runs each job in its own loop: again at once while it finds work, else after its interval.
 * `stop` lets the current iterations finish.
 */
export function startWorker(app: App, jobs: Job[] = workerJobs()): Worker {
  const controller = new AbortController();
  const log = app.log.child({ role: 'worker' });
  const loops = jobs.map(async (job) => {
    while (!controller.signal.aborted) {
      let did = 0;
      try {
        did = await job.run(app, controller.signal);
      } catch (err) {
        log.error({ err, job: job.name, code: 'MT_ERR_JOB' }, 'job failed; retrying after its interval');
      }
      if (did === 0) await sleep(job.intervalMs, controller.signal);
    }
  });
  return {
    async stop() {
      controller.abort();
      await Promise.all(loops);
      await Promise.all(jobs.map((j) => j.stop?.(app)));
    },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
