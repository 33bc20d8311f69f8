import { createServer, type AddressInfo, type Socket } from 'node:net';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imapIngest } from '../../src/imap/ingest.js';
import { parseMailboxUrl, type MailboxSpec } from '../../src/imap/mailbox-url.js';
import { startImapPollers, type ImapPoller } from '../../src/imap/poller.js';
import type { IngestFn } from '../../src/imap/session.js';
import type { IngestOutcome } from '../../src/ingest/types.js';
import { dialect, testApp, type TestApp } from '../support/app.js';
import { corpusFile, corpusFiles } from '../support/shared.js';
import { dovecotAvailable, startDovecot, type Dovecot } from './support/dovecot.js';

/**
 * Every n-th corpus file from an offset: real bounces, complaints and auto-replies. A header
 * naming the test case keeps the bytes (and so the sha256) apart from other cases' copies.
 */
function corpus(tag: string, count: number, offset: number): Buffer[] {
  const files = corpusFiles();
  const step = Math.floor(files.length / count);
  return Array.from({ length: count }, (_, i) =>
    Buffer.concat([Buffer.from(`X-Mailtrail-Test: ${tag}-${i}\r\n`), corpusFile(files[(offset + i * step) % files.length])]),
  );
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!dovecotAvailable())(`imap poller against dovecot, on ${dialect}`, { timeout: 240_000 }, () => {
  let t: TestApp;
  let dove: Dovecot;
  beforeAll(async () => {
    [t, dove] = await Promise.all([testApp(), startDovecot()]);
  }, 180_000);
  afterAll(async () => {
    await dove?.stop();
    await t?.close();
  });

  function spec(url: string): MailboxSpec {
    const r = parseMailboxUrl(url);
    if (!r.ok) throw new Error(r.error);
    return r.mailbox;
  }

  /** The real ingest, counting calls and keeping outcomes; `hook` runs after a call committed. */
  function countingIngest(hook?: (n: number, out: IngestOutcome) => Promise<void>) {
    const real = imapIngest(t.app);
    const calls: IngestOutcome[] = [];
    const fn: IngestFn = async (raw, env, opts) => {
      const out = await real(raw, env, opts);
      calls.push(out);
      await hook?.(calls.length, out);
      return out;
    };
    return { fn, calls };
  }

  function start(url: string, ingest: IngestFn, extra: { pollIntervalMs?: number; maxSize?: number } = {}): ImapPoller {
    return startImapPollers(t.app, {
      ingest,
      mailboxes: [spec(url)],
      pollIntervalMs: extra.pollIntervalMs ?? 500,
      maxSize: extra.maxSize,
      backoffMs: { min: 200, max: 1_000 },
    });
  }

  async function reportsFrom(folder: string) {
    return t.app.database.db
      .selectFrom('raw_reports')
      .select(['id', 'sha256', 'kind', 'source', 'size', 'parse'])
      .where(sql<string>`envelope->>'mailbox'`, 'like', `%/${folder};UIDVALIDITY=%`)
      .execute();
  }

  it('ingests corpus messages exactly once, moves them after storing, and picks up new mail by IDLE', async () => {
    const messages = corpus('idle', 30, 0);
    await dove.append('Idle', messages);
    const { fn, calls } = countingIngest();
    // A long poll interval: the late messages below can only be noticed quickly through IDLE.
    const poller = start(dove.url('Idle', 'after=move:Idle-done'), fn, { pollIntervalMs: 120_000 });
    try {
      await until('first batch filed', async () => (await dove.count('Idle-done')) === 30);
      expect(await dove.count('Idle')).toBe(0);
      await new Promise((r) => setTimeout(r, 1_000)); // let the poller settle into IDLE
      const late = corpus('idle-late', 3, 7);
      const appendedAt = Date.now();
      await dove.append('Idle', late);
      // Well below the 120 s poll interval, however loaded the machine: only IDLE explains it.
      await until('late mail filed', async () => (await dove.count('Idle-done')) === 33, 90_000);
      expect(Date.now() - appendedAt).toBeLessThan(90_000);
    } finally {
      await poller.stop();
    }
    const rows = await reportsFrom('Idle');
    expect(rows).toHaveLength(33);
    expect(new Set(rows.map((r) => r.sha256)).size).toBe(33);
    expect(rows.every((r) => r.source === 'imap')).toBe(true);
    expect(calls).toHaveLength(33);
    expect(calls.filter((c) => c.duplicate)).toHaveLength(0);
    const metrics = await t.app.metrics.metrics();
    const id = `bounces@127.0.0.1:${dove.port}/Idle`;
    expect(metrics).toContain(`mailtrail_imap_messages_total{mailbox="${id}",outcome="seen"} 33`);
    expect(metrics).toContain(`mailtrail_imap_messages_total{mailbox="${id}",outcome="stored"} 33`);
    expect(metrics).toContain(`mailtrail_imap_oldest_unprocessed_seconds{mailbox="${id}"} 0`);
    expect(metrics).toMatch(new RegExp(`mailtrail_imap_seconds_since_poll\\{mailbox="${id.replace(/[.]/g, '\\.')}"\\} \\d`));
    const state = await t.app.database.db.selectFrom('imap_mailboxes').selectAll().where('mailbox', '=', id).executeTakeFirstOrThrow();
    expect(state.last_uid).toBe(33);
    expect(state.owner).toBeNull(); // lease given back on stop
  });

  it('resumes from the stored UID after a restart (flag mode keeps messages in place)', async () => {
    await dove.append('Flag', corpus('flag', 8, 3));
    const first = countingIngest();
    const url = dove.url('Flag', 'after=flag');
    let poller = start(url, first.fn);
    const seen = async () => {
      const c = await dove.client();
      try {
        await c.mailboxOpen('Flag');
        return ((await c.search({ seen: true }, { uid: true })) || []).length;
      } finally {
        await c.logout();
      }
    };
    try {
      await until('all flagged', async () => (await seen()) === 8);
    } finally {
      await poller.stop();
    }
    expect(first.calls).toHaveLength(8);
    expect(await dove.count('Flag')).toBe(8);

    const second = countingIngest();
    poller = start(url, second.fn);
    try {
      const id = `bounces@127.0.0.1:${dove.port}/Flag`;
      // A rescan would ingest the 8 old messages (lower UIDs, read first) before the new ones.
      await dove.append('Flag', corpus('flag-late', 2, 11));
      // Someone read this one before the poller got to it: \Seen already, still not ingested.
      const c = await dove.client();
      await c.append('Flag', corpus('flag-read', 1, 12)[0], ['\\Seen']);
      await c.logout();
      await until('new mail ingested', async () => second.calls.length === 3);
      await until('new mail flagged', async () => (await seen()) === 11);
      expect(second.calls.every((c) => !c.duplicate)).toBe(true);
      await until('progress saved', async () => {
        const state = await t.app.database.db.selectFrom('imap_mailboxes').selectAll().where('mailbox', '=', id).executeTakeFirstOrThrow();
        return state.last_uid === 11;
      });
    } finally {
      await poller.stop();
    }
  });

  it('reads the folder again when its UIDVALIDITY changes (old UIDs mean nothing)', async () => {
    const url = dove.url('Renumber', 'after=move:Renumber-done');
    await dove.append('Renumber', corpus('renumber', 5, 19));
    const first = countingIngest();
    let poller = start(url, first.fn);
    try {
      await until('first five filed', async () => (await dove.count('Renumber-done')) === 5);
    } finally {
      await poller.stop();
    }
    // Deleted and created again: a new UIDVALIDITY, and UIDs start at 1 again, below the saved 5.
    const c = await dove.client();
    await c.mailboxDelete('Renumber');
    await c.logout();
    await dove.append('Renumber', corpus('renumber-again', 3, 23));
    const second = countingIngest();
    poller = start(url, second.fn);
    try {
      await until('new three filed', async () => (await dove.count('Renumber-done')) === 8);
    } finally {
      await poller.stop();
    }
    expect(second.calls.filter((o) => !o.duplicate)).toHaveLength(3);
  });

  it('survives the server restarting between commit and move: what was not filed is read again, stored once', async () => {
    const messages = corpus('crash', 12, 5);
    await dove.append('Crash', messages);
    let restarted = false;
    const { fn, calls } = countingIngest(async (n) => {
      // The 4th message is committed; the server goes away before the poller can move it.
      if (n === 4 && !restarted) {
        restarted = true;
        await dove.restart();
      }
    });
    const poller = start(dove.url('Crash', 'after=move:Crash-done'), fn);
    try {
      await until('all filed after the restart', async () => (await dove.count('Crash-done').catch(() => -1)) === 12);
    } finally {
      await poller.stop();
    }
    expect(restarted).toBe(true);
    expect(await dove.count('Crash')).toBe(0);
    const rows = await reportsFrom('Crash');
    expect(rows).toHaveLength(12);
    // The chunk whose move was cut off is read again: found as duplicates, nothing recorded twice.
    expect(calls.filter((c) => !c.duplicate)).toHaveLength(12);
    expect(calls.filter((c) => c.duplicate).length).toBeGreaterThan(0);
  });

  it('files oversized and failing messages in the error folder, stores the oversized one as unparseable, and never loops', async () => {
    const small = corpus('bad', 3, 2).filter((m) => m.length < 4_000);
    const big = corpusFile('rhost-aol-01.eml');
    const poison = Buffer.from('Subject: poison\r\nFrom: x@example.com\r\n\r\nthis one makes ingest fail\r\n');
    await dove.append('Bad', [big, ...small, poison]);
    const real = imapIngest(t.app);
    let poisonTries = 0;
    const fn: IngestFn = async (raw, env, opts) => {
      if (raw.includes('this one makes ingest fail')) {
        poisonTries++;
        throw new Error('a bug in ingest for this message');
      }
      return real(raw, env, opts);
    };
    const poller = start(dove.url('Bad', 'after=move:Bad-done&error=Bad-errors'), fn, { maxSize: 4_096 });
    try {
      await until('all filed', async () => (await dove.count('Bad')) === 0);
      // Give a looping poller the chance to show itself.
      await new Promise((r) => setTimeout(r, 1_500));
    } finally {
      await poller.stop();
    }
    expect(await dove.count('Bad-errors')).toBe(2);
    expect(await dove.count('Bad-done')).toBe(small.length);
    expect(poisonTries).toBe(3);
    const rows = await reportsFrom('Bad');
    expect(rows).toHaveLength(small.length + 1);
    const cut = rows.find((r) => r.kind === 'unknown');
    expect(cut?.size).toBe(4_096);
    expect((cut?.parse as { error?: string }).error).toMatch(/oversized/);
    const metrics = await t.app.metrics.metrics();
    expect(metrics).toContain(`mailtrail_imap_messages_total{mailbox="bounces@127.0.0.1:${dove.port}/Bad",outcome="failed"} 2`);
  });

  it.skipIf(dialect !== 'pg')('leaves messages in place while the database is down, then stores them once (pg only: PGlite runs in-process)', async () => {
    const name = new URL(t.url!).pathname.slice(1);
    const admin = async (query: string) => {
      const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await c.connect();
      try {
        await c.query(query);
      } finally {
        await c.end();
      }
    };
    await dove.append('Down', corpus('down', 10, 17));
    let blocked = false;
    const { fn, calls } = countingIngest();
    const blocking: IngestFn = async (raw, env, opts) => {
      if (calls.length === 2 && !blocked) {
        blocked = true;
        await admin(`alter database ${name} allow_connections false`);
        await admin(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name}'`);
      }
      return fn(raw, env, opts);
    };
    const poller = start(dove.url('Down', 'after=move:Down-done'), blocking);
    try {
      await until('the database went down', async () => blocked);
      await new Promise((r) => setTimeout(r, 2_000));
      expect(await dove.count('Down')).toBe(10); // nothing filed that is not stored
      expect(await dove.count('Down-errors')).toBe(0);
      await admin(`alter database ${name} allow_connections true`);
      await until('all filed after recovery', async () => (await dove.count('Down-done')) === 10);
    } finally {
      await admin(`alter database ${name} allow_connections true`);
      await poller.stop();
    }
    expect(await dove.count('Errors')).toBe(0);
    expect(await reportsFrom('Down')).toHaveLength(10);
    expect(calls.filter((c) => !c.duplicate)).toHaveLength(10);
  });

  it('lets only one of two pollers work a mailbox (lease)', async () => {
    await dove.append('Lease', corpus('lease', 10, 9));
    const a = countingIngest();
    const b = countingIngest();
    const url = dove.url('Lease', 'after=move:Lease-done');
    const pa = start(url, a.fn);
    const pb = start(url, b.fn);
    try {
      await until('all filed', async () => (await dove.count('Lease-done')) === 10);
    } finally {
      await Promise.all([pa.stop(), pb.stop()]);
    }
    expect(a.calls.length + b.calls.length).toBe(10);
    expect(Math.min(a.calls.length, b.calls.length)).toBe(0);
  });

  it('stops at once while a silent server keeps it waiting for a greeting', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const poller = start(`imap://u:p@127.0.0.1:${port}/INBOX?tls=off`, countingIngest().fn);
    try {
      await until('connection attempt', async () => sockets.length > 0);
      const t0 = Date.now();
      await poller.stop();
      expect(Date.now() - t0).toBeLessThan(5_000); // imapflow's greeting timeout is 16 s
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('polls a server without IDLE', async () => {
    const plain = await startDovecot({ idle: false });
    try {
      const c = await plain.client();
      expect(c.capabilities.has('IDLE')).toBe(false);
      await c.logout();
      const { fn, calls } = countingIngest();
      const poller = start(plain.url('INBOX', 'after=delete'), fn, { pollIntervalMs: 300 });
      try {
        await new Promise((r) => setTimeout(r, 800)); // connected and waiting on its timer
        await plain.append('INBOX', corpus('plain', 4, 13));
        await until('deleted', async () => (await plain.count('INBOX')) === 0);
      } finally {
        await poller.stop();
      }
      expect(calls).toHaveLength(4);
    } finally {
      await plain.stop();
    }
  });
});
