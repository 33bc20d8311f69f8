import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '../../src/db/connect.js';
import { dialect, freshDatabase, TEST_SECRET, type TestDatabase } from '../support/app.js';
import { spawnCli, waitFor } from '../support/cli.js';
import { corpusFile, corpusFiles } from '../support/shared.js';
import { dovecotAvailable, startDovecot, type Dovecot } from './support/dovecot.js';

const TOTAL = 80;

/**
 * The real thing: `mailtrail serve --role worker` polling dovecot, SIGKILLed mid-batch, started
 * again, then stopped with SIGTERM. Every message must be stored exactly once and end up moved.
 */
describe.skipIf(!dovecotAvailable())(`imap poller killed mid-batch (serve --role worker, ${dialect})`, { timeout: 900_000 }, () => {
  let dove: Dovecot;
  let dir: string;
  let pg: TestDatabase | undefined;
  const children: ChildProcess[] = [];
  const outputs: Array<() => string> = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailtrail-imap-crash-'));
    [dove, pg] = await Promise.all([startDovecot(), dialect === 'pg' ? freshDatabase() : Promise.resolve(undefined)]);
  }, 180_000);
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    if (process.env.MAILTRAIL_TEST_LOG_LEVEL) for (const o of outputs) console.log(o());
    await dove?.stop();
    await pg?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  function worker(): ChildProcess {
    const keyFile = join(dir, 'proof-key.pem');
    writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { flag: 'w' });
    const child = spawnCli(['serve', '--role', 'worker'], {
      MAILTRAIL_SECRET: TEST_SECRET,
      MAILTRAIL_DATA_DIR: dir,
      MAILTRAIL_PROOF_KEY_FILE: keyFile,
      MAILTRAIL_LOG_LEVEL: process.env.MAILTRAIL_TEST_LOG_LEVEL ?? 'warn',
      MAILTRAIL_IMAP_URLS: dove.url('Kill', 'after=move:Kill-done'),
      MAILTRAIL_IMAP_POLL_INTERVAL: '1s',
      ...(pg?.url ? { DATABASE_URL: pg.url } : {}),
    });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    child.on('exit', (code, signal) => {
      if (code && code !== 0) console.error(`worker exited ${code} ${signal}: ${output}`);
    });
    outputs.push(() => output);
    children.push(child);
    return child;
  }

  it('stores every message exactly once and moves all of them', async () => {
    const files = corpusFiles();
    const messages = Array.from({ length: TOTAL }, (_, i) =>
      Buffer.concat([Buffer.from(`X-Mailtrail-Test: kill-${i}\r\n`), corpusFile(files[i % files.length])]),
    );
    await dove.append('Kill', messages);

    const first = worker();
    await waitFor(async () => (await dove.count('Kill-done')) >= 10, 240_000, 50);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const left = await dove.count('Kill');
    expect(left).toBeGreaterThan(0); // really mid-batch

    // The killed worker's lease has to lapse first (3 poll intervals + 15 s).
    const second = worker();
    // A corpus message the parser gives up on is filed in Errors: both folders together hold them all.
    const filed = async () => (await dove.count('Kill-done')) + (await dove.count('Errors'));
    await waitFor(async () => (await filed()) === TOTAL, 300_000, 200);
    second.kill('SIGTERM');
    const code = await new Promise((r) => second.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    expect(await dove.count('Kill')).toBe(0);

    const database: Database = pg ? pg.database : await connectDatabase({ dataDir: dir });
    try {
      const rows = await database.db.selectFrom('raw_reports').select(['sha256', 'source']).execute();
      expect(rows).toHaveLength(TOTAL);
      expect(new Set(rows.map((r) => r.sha256)).size).toBe(TOTAL);
      expect(rows.every((r) => r.source === 'imap')).toBe(true);
      const state = await database.db.selectFrom('imap_mailboxes').selectAll().executeTakeFirstOrThrow();
      expect(state.last_uid).toBe(TOTAL);
      expect(state.owner).toBeNull(); // the clean stop gave the lease back
    } finally {
      if (!pg) await database.close();
    }
  });
});
