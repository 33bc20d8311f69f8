import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { realmtaDir } from '../support/shared.js';

/** Why realmta cannot run here, or null when it can (root, Debian tools, the harness beside the repo). */
export function realmtaUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'realmta needs root (Postfix master runs as root)';
  if (!existsSync(join(realmtaDir, 'run.sh'))) return `realmta not found at ${realmtaDir} (set MAILTRAIL_TEST_SHARED_DIR)`;
  return null;
}

export interface RealmtaRun {
  code: number | null;
  output: string;
  workdir: string;
  expected: Array<{ id: string; verp: string; recipient: string; category: string; expected: { class: string; suppress: boolean; dsns: Array<{ action: string; status: string }> } }>;
  observed: Array<{ id: string; category: string; notifications?: Array<{ kind: string; to_listener?: { status: string; reply: string; tries: number } }> }>;
}

/** Realmta uses fixed ports (10025-10027, 10035): one run per machine, so wait for a running one. */
export async function waitForRealmtaFree(timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const busy = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: 10025 });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (!busy) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error('another realmta run kept 127.0.0.1:10025 busy');
}

const LOCK = '/tmp/mailtrail-realmta.lock';

/**
 * One realmta run at a time on the machine, across test files running in parallel: a lock file
 * holding the owner's pid (a dead owner's lock is taken over), then the ports must be free too.
 */
async function lockRealmta(timeoutMs = 900_000): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(LOCK, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(LOCK, { force: true });
    } catch {
      const owner = Number(existsSync(LOCK) ? readFileSync(LOCK, 'utf8') : 0);
      if (owner && !alive(owner)) rmSync(LOCK, { force: true });
      else if (Date.now() > deadline) throw new Error(`realmta lock ${LOCK} held by pid ${owner}`);
      else await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs the harness against our listener with our VERP senders (`ID ADDRESS` lines). */
export async function runRealmta(opts: { port: number; senders: Array<[string, string]>; args?: string[]; timeoutMs?: number; onOutput?: (line: string) => void }): Promise<RealmtaRun> {
  const unlock = await lockRealmta();
  try {
    return await runLocked(opts);
  } finally {
    unlock();
  }
}

async function runLocked(opts: Parameters<typeof runRealmta>[0]): Promise<RealmtaRun> {
  await waitForRealmtaFree();
  const workdir = mkdtempSync('/tmp/mailtrail-realmta-');
  chmodSync(workdir, 0o755);
  const sendersFile = join(workdir, 'senders.txt');
  writeFileSync(sendersFile, opts.senders.map(([id, a]) => `${id} ${a}`).join('\n') + '\n');
  const args = [
    join(realmtaDir, 'run.sh'),
    '--listener', `127.0.0.1:${opts.port}`,
    '--senders', sendersFile,
    '--count', String(opts.senders.length),
    '--workdir', join(workdir, 'run'),
    ...(opts.args ?? []),
  ];
  let output = '';
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn('bash', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGINT'), opts.timeoutMs ?? 300_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      for (const line of d.toString().split('\n')) if (line.trim()) opts.onOutput?.(line);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  const jsonl = <T>(name: string): T[] => {
    const p = join(workdir, 'run', 'out', name);
    return existsSync(p) ? (readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) as T[]) : [];
  };
  return { code, output, workdir, expected: jsonl('expected.jsonl'), observed: jsonl('observed.jsonl') };
}
