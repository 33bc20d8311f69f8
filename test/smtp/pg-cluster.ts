import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** The Postgres server binaries: MAILTRAIL_TEST_PG_BIN (set by .ci/run), else Debian's newest. */
export function pgBin(): string | null {
  if (process.env.MAILTRAIL_TEST_PG_BIN) return process.env.MAILTRAIL_TEST_PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin/pg_ctl'))).sort((a, b) => Number(a) - Number(b));
  return versions.length ? join(root, versions.at(-1)!, 'bin') : null;
}

/**
 * A throw-away Postgres cluster of this test alone (owned by the postgres user, on loopback), so
 * an outage test can stop and start it without touching the database other suites use.
 */
export class PgCluster {
  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    readonly port: number,
  ) {}

  static create(bin: string, port: number): PgCluster {
    const dir = mkdtempSync('/tmp/mailtrail-outage-pg-');
    chownSync(dir, uidOf('postgres'), gidOf('postgres'));
    const c = new PgCluster(bin, dir, port);
    c.asPostgres('initdb', '-D', c.data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8');
    c.start();
    return c;
  }

  get data() {
    return join(this.dir, 'data');
  }

  get url() {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  start() {
    this.asPostgres('pg_ctl', '-D', this.data, '-l', join(this.dir, 'log'), '-w', '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start');
  }

  stop() {
    this.asPostgres('pg_ctl', '-D', this.data, '-m', 'fast', '-w', 'stop');
  }

  destroy() {
    try {
      this.stop();
    } catch {
      // already stopped
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private asPostgres(tool: string, ...args: string[]) {
    execFileSync('runuser', ['-u', 'postgres', '--', join(this.bin, tool), ...args], { stdio: 'ignore', timeout: 120_000 });
  }
}

function uidOf(user: string): number {
  return Number(execFileSync('id', ['-u', user]).toString().trim());
}
function gidOf(user: string): number {
  return Number(execFileSync('id', ['-g', user]).toString().trim());
}
