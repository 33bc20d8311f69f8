import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { applyPending } from '../../src/ingest/group-commit.js';
import { ingestMetrics } from '../../src/ingest/metrics.js';
import { createLog } from '../../src/log.js';
import { dialect, testApp, TEST_SECRET } from '../support/app.js';

it(`logs a database outage while applying as the outage, never as "report 0" (${dialect})`, async () => {
  const lines: Array<{ msg: string; report_id?: number }> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  const broken = await testApp();
  const app = createApp({ config: broken.app.config, database: broken.app.database, log: createLog('info', sink), secret: TEST_SECRET });
  await broken.close();
  await expect(applyPending(app, ingestMetrics(app.metrics), 10)).resolves.toBe(0);
  expect(lines.some((l) => /database failing/.test(l.msg))).toBe(true);
  expect(lines.filter((l) => /could not apply a stored report/.test(l.msg))).toEqual([]);
  expect(lines.some((l) => l.report_id === 0)).toBe(false);
});
