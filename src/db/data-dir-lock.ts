import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/**
 * The embedded database (PGlite) is one process's memory over files: a second process opening the
 * same data dir keeps its own copy and each overwrites the other's writes. So the data dir has one
 * owner, recorded in `<dataDir>/mailtrail.lock`, created with O_EXCL; everyone else either reaches
 * the owner through its admin socket (src/db/admin-socket.ts) or refuses.
 */
export const LOCK_FILE = 'mailtrail.lock';

export interface LockHolder {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot), null where /proc is absent. */
  startTime: string | null;
  hostname: string;
  /** What the holder runs, e.g. "serve" or "apikey create" (no further arguments: no secrets). */
  command: string;
  since: string;
}

/** What the checker knows about the machine now (a parameter so the verdict is testable without processes). */
export interface HostFacts {
  hostname: string;
  alive(pid: number): boolean;
  startTime(pid: number): string | null;
}

export type Verdict = { live: true } | { live: false; reason: string };

/** Whether a recorded holder still owns the lock. Pure. */
export function judgeHolder(holder: LockHolder | null, facts: HostFacts): Verdict {
  if (!holder) return { live: false, reason: 'the lock file is unreadable' };
  // Another host's pid means nothing here: a data dir on shared storage stays refused.
  if (holder.hostname !== facts.hostname) return { live: true };
  if (!facts.alive(holder.pid)) return { live: false, reason: `pid ${holder.pid} is not running` };
  const now = facts.startTime(holder.pid);
  if (holder.startTime !== null && now !== null && now !== holder.startTime) {
    return { live: false, reason: `pid ${holder.pid} is now another process (started at tick ${now}, the holder at ${holder.startTime})` };
  }
  return { live: true };
}

export function parseHolder(text: string): LockHolder | null {
  try {
    const v = JSON.parse(text) as Partial<LockHolder>;
    if (typeof v.pid !== 'number' || !Number.isInteger(v.pid) || v.pid <= 0) return null;
    return {
      pid: v.pid,
      startTime: typeof v.startTime === 'string' ? v.startTime : null,
      hostname: typeof v.hostname === 'string' ? v.hostname : '',
      command: typeof v.command === 'string' ? v.command : '',
      since: typeof v.since === 'string' ? v.since : '',
    };
  } catch {
    return null;
  }
}

/** One line naming the holder, for the refusals. */
export function describeHolder(h: LockHolder, here = hostname()): string {
  const what = [h.command ? `mailtrail ${h.command}` : 'mailtrail', h.since ? `since ${h.since}` : '', h.hostname !== here ? `on host ${h.hostname}` : '']
    .filter(Boolean)
    .join(' ');
  return `pid ${h.pid} (${what})`;
}

export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
  ) {
    super(`the embedded database in ${dataDir} is in use by ${describeHolder(holder)}; stop it first, or run this command while it runs (commands other than serve reach it through ${join(dataDir, 'mailtrail.sock')})`);
    this.name = 'DataDirInUseError';
  }
}

/** Field 22 (starttime) of /proc/<pid>/stat; the command name before it may hold spaces and parentheses. */
export function procStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null; // fields[0] is field 3 (state)
  } catch {
    return null;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export const thisHost: HostFacts = { hostname: hostname(), alive: pidAlive, startTime: procStartTime };

function readHolder(path: string): { text: string; holder: LockHolder | null } | null {
  try {
    const text = readFileSync(path, 'utf8');
    return { text, holder: parseHolder(text) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** The live holder of the data dir's lock, or null (no lock, or a stale one). */
export function liveHolder(dataDir: string, facts: HostFacts = thisHost): LockHolder | null {
  const read = readHolder(join(dataDir, LOCK_FILE));
  if (!read?.holder) return null;
  return judgeHolder(read.holder, facts).live ? read.holder : null;
}

export interface DataDirLock {
  readonly path: string;
  release(): void;
}

/**
 * Takes the data dir's lock for this process, taking over a stale one (logged on stderr), or throws
 * DataDirInUseError. Released by `release()`, and on any exit of the process that runs the 'exit'
 * handlers (normal end, process.exit, an uncaught exception). A kill -9 leaves the file: the next
 * owner finds its pid dead (or reused) and takes over.
 */
export function acquireDataDirLock(dataDir: string, opts: { command?: string; log?: (line: string) => void } = {}): DataDirLock {
  const path = join(dataDir, LOCK_FILE);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const mine: LockHolder = {
    pid: process.pid,
    startTime: procStartTime(process.pid),
    hostname: thisHost.hostname,
    command: opts.command ?? process.argv.slice(2, 4).filter((a) => !a.startsWith('-')).join(' '),
    since: new Date().toISOString(),
  };
  const text = `${JSON.stringify(mine)}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, text, { flag: 'wx', mode: 0o600 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw err;
    }
    const read = readHolder(path);
    if (!read) continue; // released meanwhile
    const verdict = read.holder && read.holder.pid === process.pid ? ({ live: true } as const) : judgeHolder(read.holder, thisHost);
    if (verdict.live) throw new DataDirInUseError(dataDir, read.holder!);
    // Moved aside rather than deleted: of two processes taking over at once only one rename finds
    // the file, and one that moved a lock freshly taken by the other (not the stale text it judged)
    // puts it back.
    const aside = `${path}.stale.${process.pid}`;
    try {
      renameSync(path, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    const moved = readFileSync(aside, 'utf8');
    if (moved !== read.text) {
      try {
        linkSync(aside, path);
      } catch {
        // someone else holds it now: the next round reads them
      }
      unlinkSync(aside);
      continue;
    }
    unlinkSync(aside);
    log(`mailtrail: took over the stale lock on the embedded database in ${dataDir} (${verdict.reason}; it was held by ${read.holder ? describeHolder(read.holder) : 'an unknown process'})`);
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    try {
      // Only our own file: never remove a lock another process took after a takeover.
      if (readFileSync(path, 'utf8') === text) unlinkSync(path);
    } catch {
      // already gone
    }
  };
  process.on('exit', release);
  return { path, release };
}
