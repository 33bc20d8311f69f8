/**
 * Load generator for bench/smtp-ingest.ts, in its own process so it does not share the server's
 * event loop: CONCURRENCY SMTP clients on loopback, each reusing its connection, send one DSN per
 * job and time end of DATA → reply.
 */
import { postfixDsn } from '../test/smtp/dsn.js';
import { SmtpClient } from '../test/smtp/client.js';

interface Job {
  verp: string;
  recipient: string;
}
interface Request {
  port: number;
  concurrency: number;
  jobs: Job[];
}

process.on('message', async (req: Request) => {
  const bodies = req.jobs.map((j) => postfixDsn({ to: j.verp, recipient: j.recipient }).replace(/^\./gm, '..') + '.\r\n');
  let next = 0;
  const latencies: number[] = [];
  const replies = new Map<string, number>();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: req.concurrency }, async () => {
      const c = await SmtpClient.connect(req.port);
      await c.reply();
      await c.cmd('EHLO load.test');
      while (next < req.jobs.length) {
        const i = next++;
        // PIPELINING: the envelope in one write, as MTAs do.
        c.write(`MAIL FROM:<>\r\nRCPT TO:<${req.jobs[i].verp}>\r\nDATA\r\n`);
        for (let k = 0; k < 3; k++) await c.reply();
        const t0 = performance.now();
        c.write(bodies[i]);
        const r = await c.reply();
        latencies.push(performance.now() - t0);
        const code = r.slice(0, 3);
        replies.set(code, (replies.get(code) ?? 0) + 1);
      }
      await c.cmd('QUIT');
      c.close();
    }),
  );
  const elapsedMs = performance.now() - started;
  process.send!({ elapsedMs, latencies, replies: Object.fromEntries(replies) });
});
