import { existsSync, unlinkSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';

/**
 * The embedded database's owner (`mailtrail serve`) answers the CLI's database commands over an
 * HTTP server on a Unix socket in the data dir, mode 0600: the command runs inside the owner, on
 * its one PGlite session, so a CLI transaction queues behind the server's (the driver's queue,
 * src/db/pglite-dialect.ts) instead of interleaving with them.
 */
export const SOCKET_FILE = 'mailtrail.sock';

export const adminSocketPath = (dataDir: string) => join(dataDir, SOCKET_FILE);

export interface AdminRequest {
  argv: string[];
  /** The CLI's stdin when it is not a terminal (a password for `user create`), else null. */
  stdin: string | null;
  /** The CLI's working directory: file arguments (`proof export --out`) are relative to it. */
  cwd: string;
}

export interface AdminResponse {
  code: number;
  stdout: string;
  stderr: string;
}

// Bounds what one local client can make the server hold: argv + a password fit in far less.
const MAX_REQUEST = 64 * 1024;
const MAX_STDIN = 8 * 1024;

export interface AdminSocket {
  path: string;
  stop(): Promise<void>;
}

/** Listens on `<dataDir>/mailtrail.sock`; the caller holds the data dir's lock, so an existing socket file is stale. */
export async function startAdminSocket(dataDir: string, run: (req: AdminRequest) => Promise<AdminResponse>): Promise<AdminSocket> {
  const path = adminSocketPath(dataDir);
  if (existsSync(path)) unlinkSync(path);
  const server: Server = createServer((req, res) => {
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || req.url !== '/run') return answer(404, { error: 'POST /run only' });
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_REQUEST) {
        answer(413, { error: 'request too large' });
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_REQUEST) return;
      let parsed: AdminRequest;
      try {
        parsed = parseRequest(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        return answer(400, { error: (err as Error).message });
      }
      run(parsed).then(
        (r) => answer(200, r),
        (err) => answer(200, { code: 1, stdout: '', stderr: `mailtrail: ${(err as Error).message ?? err}\n` }),
      );
    });
  });
  // The socket is created with mode 0600 (umask while it binds): only the data dir's owner may
  // run commands against the database, as only they could open its files.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
  } finally {
    process.umask(umask);
  }
  return {
    path,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function parseRequest(v: unknown): AdminRequest {
  const o = v as Partial<AdminRequest>;
  if (!o || !Array.isArray(o.argv) || !o.argv.every((a) => typeof a === 'string')) throw new Error('argv: expected strings');
  if (o.stdin !== null && typeof o.stdin !== 'string') throw new Error('stdin: expected a string or null');
  if (typeof o.stdin === 'string' && o.stdin.length > MAX_STDIN) throw new Error('stdin: too long');
  if (typeof o.cwd !== 'string') throw new Error('cwd: expected a string');
  return { argv: o.argv, stdin: o.stdin, cwd: o.cwd };
}

/** Runs a CLI command inside the data dir's owner. Rejects when nothing answers on the socket. */
export function callAdminSocket(dataDir: string, body: AdminRequest): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: adminSocketPath(dataDir), path: '/run', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        try {
          const r = JSON.parse(text) as AdminResponse & { error?: string };
          if (res.statusCode !== 200) reject(new Error(r.error ?? `status ${res.statusCode}`));
          else resolve(r);
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}
