/**
 * How fast the poller drains a bounce mailbox, against what the IMAP round trips alone allow.
 *
 *   node --import tsx bench/imap-drain.ts            (PGlite in memory)
 *   DATABASE_URL=postgres://... node --import tsx bench/imap-drain.ts
 *
 * Per round, interleaved: (A) baseline: a bare imapflow client fetching and moving one message
 * at a time, no ingest (the IMAP cost of a naive poller); (B) the poller with the real ingest path;
 * (C) the real ingest alone on the same bytes, no IMAP. Prints messages/s and B/A, B/C.
 * Needs root and /usr/sbin/dovecot (the test harness starts a throw-away server).
 */
import { createApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import { connectDatabase, migrate } from '../src/db/connect.js';
import { parseMailboxUrl } from '../src/imap/mailbox-url.js';
import { imapIngest } from '../src/imap/ingest.js';
import { startImapPollers } from '../src/imap/poller.js';
import { createLog } from '../src/log.js';
import { corpusFile, corpusFiles } from '../test/support/shared.js';
import { startDovecot, type Dovecot } from '../test/imap/support/dovecot.js';

const N = Number(process.env.BENCH_IMAP_MESSAGES ?? 300);
const ROUNDS = Number(process.env.BENCH_IMAP_ROUNDS ?? 2);
const files = corpusFiles();

function messages(tag: string): Buffer[] {
  return Array.from({ length: N }, (_, i) => Buffer.concat([Buffer.from(`X-Bench: ${tag}-${i}\r\n`), corpusFile(files[i % files.length])]));
}

async function baseline(dove: Dovecot, folder: string): Promise<number> {
  await dove.append(folder, messages(folder));
  const c = await dove.client();
  const t0 = performance.now();
  await c.mailboxCreate(`${folder}-done`).catch(() => undefined);
  await c.mailboxOpen(folder);
  const uids = ((await c.search({ uid: '1:*' }, { uid: true })) || []) as number[];
  await c.fetchAll(uids.join(','), { uid: true, size: true, internalDate: true, flags: true }, { uid: true });
  for (const uid of uids) {
    await c.fetchOne(String(uid), { uid: true, source: true }, { uid: true });
    await c.messageMove(String(uid), `${folder}-done`, { uid: true });
  }
  const ms = performance.now() - t0;
  await c.logout();
  return (N / ms) * 1000;
}

async function poller(dove: Dovecot, app: App, folder: string): Promise<number> {
  await dove.append(folder, messages(folder));
  const spec = parseMailboxUrl(dove.url(folder, `after=move:${folder}-done&error=${folder}-errors`));
  if (!spec.ok) throw new Error(spec.error);
  const t0 = performance.now();
  const p = startImapPollers(app, { ingest: imapIngest(app), mailboxes: [spec.mailbox], pollIntervalMs: 100 });
  // Done when every message is filed, read from the poller's own counter (no extra IMAP logins).
  const filed = async () =>
    ((await app.metrics.getSingleMetric('mailtrail_imap_messages_total')?.get())?.values ?? [])
      .filter((v) => v.labels.mailbox === spec.mailbox.id && v.labels.outcome !== 'seen')
      .reduce((sum, v) => sum + v.value, 0);
  while ((await filed()) < N) await new Promise((r) => setTimeout(r, 5));
  const ms = performance.now() - t0;
  await p.stop();
  return (N / ms) * 1000;
}

async function ingestOnly(app: App, tag: string): Promise<number> {
  const ingest = imapIngest(app);
  const raws = messages(tag);
  const t0 = performance.now();
  for (const raw of raws) await ingest(raw, { source: 'imap', mailFrom: '', rcptTo: [], mailbox: tag });
  return (N / (performance.now() - t0)) * 1000;
}

// Throw-away database: in-memory PGlite, or the Postgres named by DATABASE_URL (use an empty one).
const config = loadConfig({
  MAILTRAIL_DATA_DIR: 'memory://',
  MAILTRAIL_SECRET: 'bench-secret-0123456789abcdef0123456789abcdef',
  MAILTRAIL_LOG_LEVEL: 'error',
  ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
});
const database = await connectDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.MAILTRAIL_DATA_DIR });
await migrate(database.db);
const app = createApp({ config, database, log: createLog('error'), secret: config.MAILTRAIL_SECRET as string });
const dove = await startDovecot();
try {
  const rows: Array<{ a: number; b: number; c: number }> = [];
  for (let r = 0; r < ROUNDS; r++) {
    const a = await baseline(dove, `A${r}`);
    const b = await poller(dove, app, `B${r}`);
    const c = await ingestOnly(app, `C${r}`);
    rows.push({ a, b, c });
    console.log(`round ${r + 1}: imap-only ${a.toFixed(0)} msg/s, poller ${b.toFixed(0)} msg/s, ingest-only ${c.toFixed(0)} msg/s; poller/imap-only ${(b / a).toFixed(2)}, poller/ingest-only ${(b / c).toFixed(2)}`);
  }
  const avg = (k: 'a' | 'b' | 'c') => rows.reduce((s, x) => s + x[k], 0) / rows.length;
  console.log(
    `${N} messages x ${ROUNDS} rounds on ${app.database.dialect}: poller ${avg('b').toFixed(0)} msg/s = ${(avg('b') / avg('a')).toFixed(2)}x imap-only, ${(avg('b') / avg('c')).toFixed(2)}x ingest-only`,
  );
} finally {
  await dove.stop();
  await database.close();
}
