import type { Job } from '../server/worker.js';
import { signCheckpoints } from './checkpoints.js';
import { resolveProofKey } from './keys.js';
import { purgeExpiredReports } from './retention.js';
import { stampCheckpoints } from './tsa.js';

/**
 * Signs checkpoints of chains that grew. It wakes often but signs a chain only once its last
 * checkpoint is MAILTRAIL_PROOF_CHECKPOINT_INTERVAL old, so the interval holds across nodes.
 * Always reports idle: new entries arrive all the time and must not make it spin.
 */
export const proofCheckpointJob: Job = {
  name: 'proof-checkpoints',
  intervalMs: 5_000,
  run: async (app) => {
    const key = resolveProofKey(app.config);
    await signCheckpoints(app.database.db, key, app.clock.now(), { minAgeMs: app.config.MAILTRAIL_PROOF_CHECKPOINT_INTERVAL });
    return 0;
  },
};

/** Raw bodies past MAILTRAIL_RAW_RETENTION: purged in batches, again at once while some are due. */
export const rawRetentionJob: Job = {
  name: 'raw-retention',
  intervalMs: 3_600_000,
  run: (app) => purgeExpiredReports(app),
};

/**
 * RFC 3161 timestamps of signed checkpoints (MAILTRAIL_TSA_URL), in a loop of its own so that a
 * TSA that is down or slow holds up nothing else; again at once while it stamps.
 */
export const proofTimestampJob: Job = {
  name: 'proof-timestamps',
  intervalMs: 5_000,
  run: (app, signal) => stampCheckpoints(app, signal),
};
