import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectDatabase } from '../../src/db/connect.js';
import { acquireDataDirLock, DataDirInUseError, judgeHolder, parseHolder, procStartTime, thisHost, type HostFacts, type LockHolder } from '../../src/db/data-dir-lock.js';

const holder = (over: Partial<LockHolder> = {}): LockHolder => ({ pid: 4242, startTime: '1000', hostname: 'h1', command: 'serve', since: '2026-01-01T00:00:00.000Z', ...over });
const facts = (over: Partial<HostFacts> = {}): HostFacts => ({ hostname: 'h1', alive: () => true, startTime: () => '1000', ...over });

describe('judgeHolder (pure)', () => {
  it('a live pid with the recorded start time holds the lock', () => {
    expect(judgeHolder(holder(), facts())).toEqual({ live: true });
  });
  it('a dead pid is stale', () => {
    expect(judgeHolder(holder(), facts({ alive: () => false }))).toEqual({ live: false, reason: 'pid 4242 is not running' });
  });
  it('a pid reused by another process (different start time) is stale', () => {
    const v = judgeHolder(holder(), facts({ startTime: () => '2000' }));
    expect(v.live).toBe(false);
  });
  it('without /proc the pid alone decides', () => {
    expect(judgeHolder(holder({ startTime: null }), facts({ startTime: () => null }))).toEqual({ live: true });
  });
  it("another host's lock is never judged stale from here", () => {
    expect(judgeHolder(holder({ hostname: 'h2' }), facts({ alive: () => false }))).toEqual({ live: true });
  });
  it('an unreadable lock file is stale', () => {
    expect(parseHolder('{"pid": "x"}')).toBeNull();
    expect(parseHolder('garbage')).toBeNull();
    expect(judgeHolder(null, facts()).live).toBe(false);
  });
});

describe('acquireDataDirLock', () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'mt-lock-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('records this process, refuses a second holder, and releases', () => {
    const d = dir();
    const lock = acquireDataDirLock(d, { command: 'serve' });
    const recorded = parseHolder(readFileSync(lock.path, 'utf8'))!;
    expect(recorded).toMatchObject({ pid: process.pid, hostname: thisHost.hostname, command: 'serve' });
    expect(recorded.startTime).toBe(procStartTime(process.pid));
    expect(() => acquireDataDirLock(d)).toThrow(DataDirInUseError);
    lock.release();
    expect(existsSync(lock.path)).toBe(false);
    acquireDataDirLock(d).release();
  });

  it('takes over the lock of an exited process, and of a reused pid, with a log line', () => {
    const d = dir();
    const exited = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(join(d, 'mailtrail.lock'), JSON.stringify(holder({ pid: exited, hostname: thisHost.hostname })));
    const logged: string[] = [];
    acquireDataDirLock(d, { log: (l) => logged.push(l) }).release();
    expect(logged[0]).toContain(`pid ${exited} is not running`);

    // pid 1 is alive, but it is not the process that started at tick 1.
    writeFileSync(join(d, 'mailtrail.lock'), JSON.stringify(holder({ pid: 1, startTime: '1', hostname: thisHost.hostname })));
    acquireDataDirLock(d, { log: (l) => logged.push(l) }).release();
    expect(logged[1]).toContain('pid 1 is now another process');
  });

  it('connectDatabase holds it for the embedded database, not for memory://', async () => {
    const d = dir();
    const database = await connectDatabase({ dataDir: d });
    try {
      await expect(connectDatabase({ dataDir: d })).rejects.toThrow(/is in use by pid/);
      const mem = await connectDatabase({ dataDir: 'memory://' });
      await mem.close();
    } finally {
      await database.close();
    }
    expect(existsSync(join(d, 'mailtrail.lock'))).toBe(false);
  }, 60_000);
});
