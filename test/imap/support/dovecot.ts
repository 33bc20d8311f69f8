import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ImapFlow } from 'imapflow';

export const DOVECOT = '/usr/sbin/dovecot';
/** The ports this suite may use (assigned range). */
const PORTS = { min: 30100, max: 30999 };
/** Mail files belong to this unprivileged user (dovecot refuses to run mail processes as root). */
const MAIL_UID = 65534;

export interface DovecotOptions {
  /** Advertise IDLE (default true); false makes the poller fall back to polling. */
  idle?: boolean;
}

/** A throw-away Dovecot IMAP server on loopback, one user, maildir in a temp dir. */
export interface Dovecot {
  port: number;
  user: string;
  password: string;
  dir: string;
  /** A mailbox URL for MAILTRAIL_IMAP_URLS; `query` like `after=flag`. */
  url(folder?: string, query?: string): string;
  /** A connected admin client (the test's own view of the mailbox). */
  client(): Promise<ImapFlow>;
  append(folder: string, messages: Buffer[]): Promise<void>;
  /** Messages in a folder (0 when it does not exist). */
  count(folder: string): Promise<number>;
  /** Kills the server and its open sessions, then starts it again on the same port and mail. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  log(): string;
}

export function dovecotAvailable(): boolean {
  return existsSync(DOVECOT) && process.getuid?.() === 0;
}

export async function startDovecot(opts: DovecotOptions = {}): Promise<Dovecot> {
  const dir = mkdtempSync(join(tmpdir(), 'mailtrail-dovecot-'));
  chmodSync(dir, 0o755);
  for (const d of ['mail', 'run', 'state']) mkdirSync(join(dir, d));
  chownSync(join(dir, 'mail'), MAIL_UID, MAIL_UID);
  const user = 'bounces';
  const password = 'imap-test-password';
  writeFileSync(join(dir, 'passwd'), `${user}:{PLAIN}${password}::::::\n`);

  let child: ChildProcess | undefined;
  let port = 0;
  for (let tries = 0; tries < 10 && !child; tries++) {
    port = await freePort();
    writeFileSync(join(dir, 'dovecot.conf'), config(dir, port, opts));
    const c = launch(dir);
    if (await listening(port, c)) child = c;
    else await kill(c);
  }
  if (!child) {
    const log = readLog(dir);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`dovecot did not start: ${log}`);
  }

  const d: Dovecot = {
    port,
    user,
    password,
    dir,
    url: (folder = 'INBOX', query = '') =>
      `imap://${user}:${password}@127.0.0.1:${port}/${encodeURIComponent(folder)}?tls=off${query ? `&${query}` : ''}`,
    async client() {
      const c = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, auth: { user, pass: password }, logger: false });
      c.on('error', () => {});
      await c.connect();
      return c;
    },
    async append(folder, messages) {
      const c = await d.client();
      try {
        await c.mailboxCreate(folder).catch(() => undefined);
        for (const m of messages) await c.append(folder, m);
      } finally {
        await c.logout();
      }
    },
    async count(folder) {
      const c = await d.client();
      try {
        const s = await c.status(folder, { messages: true }).catch(() => false as const);
        return s ? (s.messages ?? 0) : 0;
      } finally {
        await c.logout();
      }
    },
    async restart() {
      if (child) await kill(child);
      const c = launch(dir);
      if (!(await listening(port, c))) throw new Error(`dovecot did not restart: ${readLog(dir)}`);
      child = c;
    },
    async stop() {
      if (child) await kill(child);
      child = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => readLog(dir),
  };
  return d;
}

/** Dovecot in its own process group, so a kill takes its imap processes (open sessions) too. */
function launch(dir: string): ChildProcess {
  return spawn(DOVECOT, ['-F', '-c', join(dir, 'dovecot.conf')], { stdio: ['ignore', 'ignore', 'ignore'], detached: true });
}

function config(dir: string, port: number, opts: DovecotOptions): string {
  const lines = [
    'protocols = imap',
    'listen = 127.0.0.1',
    `base_dir = ${dir}/run`,
    `state_dir = ${dir}/state`,
    `log_path = ${dir}/dovecot.log`,
    'ssl = no',
    'disable_plaintext_auth = no',
    'auth_mechanisms = plain login',
    `mail_location = maildir:${dir}/mail/%u`,
    'passdb {',
    '  driver = passwd-file',
    `  args = scheme=PLAIN username_format=%u ${dir}/passwd`,
    '}',
    'userdb {',
    '  driver = static',
    `  args = uid=${MAIL_UID} gid=${MAIL_UID} home=${dir}/mail/%u`,
    '}',
    'service imap-login {',
    '  inet_listener imap {',
    '    address = 127.0.0.1',
    `    port = ${port}`,
    '  }',
    '  inet_listener imaps {',
    '    port = 0',
    '  }',
    '}',
  ];
  // Dovecot's default list minus IDLE: a server without IDLE, so the poller must poll.
  if (opts.idle === false) lines.push('imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN ESEARCH');
  return `${lines.join('\n')}\n`;
}

async function freePort(): Promise<number> {
  for (;;) {
    const port = PORTS.min + Math.floor(Math.random() * (PORTS.max - PORTS.min));
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** Waits until the port accepts connections; false if the server exited (e.g. port taken). */
async function listening(port: number, child: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return true;
    await delay(100);
  }
  return false;
}

/** Kills the server with every session it has open, as a crash or a host restart would. */
async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(-child.pid, 'SIGKILL');
  await exited;
}

function readLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'dovecot.log'), 'utf8');
  } catch {
    return '(no log)';
  }
}
