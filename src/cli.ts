#!/usr/bin/env node
import { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import type { App } from './app.js';
import { assertStartable } from './config/check.js';
import { ConfigError, configDocs, describeConfig, loadConfig } from './config/load.js';
import { callAdminSocket, startAdminSocket, type AdminRequest, type AdminResponse } from './db/admin-socket.js';
import { migrate } from './db/connect.js';
import { DataDirInUseError, liveHolder } from './db/data-dir-lock.js';
import { createApiKey, ensureTenant } from './db/tenants.js';
import { runProof } from './cli/proof.js';
import { runDemo } from './cli/demo.js';
import { runInit } from './cli/init.js';
import { runParse } from './cli/parse.js';
import { runReprocess } from './cli/reprocess.js';
import { runUser } from './cli/user.js';
import { notSendingReason } from './send/waiting.js';
import { openApp, type OpenOptions } from './server/bootstrap.js';
import { ROLES, serve, type Role } from './server/serve.js';

/** Where a command reads, writes and finds its database: this process, or the embedded database's owner running it for a CLI. */
interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: Record<string, string | undefined>;
  cwd: string;
  open(opts?: Pick<OpenOptions, 'migrate'>): Promise<App>;
}

type Command = (args: string[], io: CommandIo) => Promise<number>;

// The commands that open the database: with the embedded database owned by a running server,
// they run inside it (src/db/admin-socket.ts). `proof verify` needs no database and runs here.
const OWNER_COMMANDS = new Set(['apikey', 'user', 'reprocess', 'proof', 'db']);
const runsInOwner = (argv: string[]) => OWNER_COMMANDS.has(argv[0]) && !(argv[0] === 'proof' && argv[1] === 'verify');

const USAGE = `usage: mailtrail <command>

  serve [--role http|smtp|worker]...   start the roles (all by default)
  demo [--data-dir DIR]                a guided first run on loopback: relay, bounces, opens, clicks, a complaint
  init [--database-url URL] [--bounce-domain D] [--print]   write a .env (0600) with a generated secret and checkpoint key
  db migrate                           apply pending database migrations
  config check                         validate the environment, print the effective config (secrets masked)
  config docs                          print the configuration table (Markdown)
  apikey create --tenant NAME [--label TEXT]   create an API key; it is printed once
  proof export|verify|check|checkpoint ...    tamper-evident trail: bundles, offline verification (see: mailtrail proof)
  parse [--json] FILE...|-             classify bounce/complaint files (one JSON line per file with --json); no database
  reprocess [--since DATE]             re-parse stored reports with the current parser; record what changed
  user create --email E (--tenant NAME | --operator)   dashboard account; password from stdin, else generated and printed once
`;

const commands: Record<string, Command> = {
  parse: (args, io) => runParse(args, io),
  init: (args, io) => runInit(args, io),
  demo: (args, io) => runDemo(args, io, stopSignal()),
  reprocess: (args, io) => runReprocess(args, () => io.open({ migrate: true }), io),
  user: (args, io) => runUser(args, () => io.open({ migrate: true }), io),
  proof: (args, io) => runProof(args, { ...io, open: () => io.open({ migrate: true }) }),
  serve: async (args, io) => {
    if (args.includes('--demo')) return runDemo(args.filter((a) => a !== '--demo'), io, stopSignal()); // npm start -- --demo
    const { values } = parseArgs({ args, options: { role: { type: 'string', multiple: true } } });
    const roles = (values.role ?? [...ROLES]) as Role[];
    const bad = roles.find((r) => !(ROLES as readonly string[]).includes(r));
    if (bad) return usageError(`unknown role "${bad}" (roles: ${ROLES.join(', ')})`);
    // Listened for before anything starts: a SIGTERM while the roles start (an orchestrator that
    // gave up waiting) must still shut down cleanly, not kill the process with its default action.
    const signalled = new Promise<string>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    const app = await openApp(process.env, { migrate: true });
    const running = await serve(app, roles);
    const admin = await ownerSocket(app);
    app.log.info({ roles, database: app.database.dialect }, 'mailtrail started');
    const noRelay = roles.includes('worker') ? notSendingReason(app.config, 'email') : null;
    if (noRelay) app.log.warn({ code: 'MT_WARN_NO_RELAY' }, noRelay);
    const signal = await signalled;
    app.log.info({ signal }, 'shutting down: no new work, finishing in-flight work');
    const force = setTimeout(() => {
      app.log.error({ code: 'MT_ERR_SHUTDOWN_TIMEOUT' }, 'shutdown timed out; exiting');
      process.exit(1);
    }, app.config.MAILTRAIL_SHUTDOWN_TIMEOUT);
    force.unref();
    await admin?.stop();
    await running.stop();
    await app.database.close();
    app.log.info('stopped');
    return 0;
  },
  db: async ([sub], io) => {
    if (sub !== 'migrate') return usageError('db: expected "migrate"', io);
    const app = await io.open();
    try {
      const r = await migrate(app.database.db);
      const applied = r.results?.filter((x) => x.status === 'Success').map((x) => x.migrationName) ?? [];
      io.stdout.write(`${applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date'}\n`);
    } finally {
      await app.database.close();
    }
    return 0;
  },
  config: async ([sub]) => {
    if (sub === 'docs') {
      console.log(configDocs());
      return 0;
    }
    if (sub !== 'check') return usageError('config: expected "check" or "docs"');
    const config = loadConfig(process.env);
    await assertStartable(config);
    for (const [k, v] of Object.entries(describeConfig(config))) console.log(`${k}=${v}`);
    return 0;
  },
  apikey: async ([sub, ...args], io) => {
    if (sub !== 'create') return usageError('apikey: expected "create"', io);
    const { values } = parseArgs({ args, options: { tenant: { type: 'string' }, label: { type: 'string' } } });
    if (!values.tenant) return usageError('apikey create: --tenant NAME is required', io);
    const app = await io.open({ migrate: true });
    try {
      const tenant = await ensureTenant(app.database.db, values.tenant);
      const key = await createApiKey(app.database.db, tenant.id, values.label);
      io.stdout.write(`${key.key}\n`);
      io.stderr.write(`created key ${key.prefix} (id ${key.id}) for tenant "${tenant.name}"; it is shown only this once\n`);
    } finally {
      await app.database.close();
    }
    return 0;
  },
};

const stopSignal = () => new Promise<string>((resolve) => {
  process.once('SIGTERM', () => resolve('SIGTERM'));
  process.once('SIGINT', () => resolve('SIGINT'));
});

function usageError(message: string, io: Pick<CommandIo, 'stderr'> = process): number {
  io.stderr.write(`mailtrail: ${message}\n${USAGE}`);
  return 2;
}

const localIo: CommandIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
  open: (opts) => openApp(process.env, opts),
};

/** The owner's side: runs a CLI's command on the server's own app, its output captured. */
async function ownerSocket(app: App) {
  if (app.database.dialect !== 'pglite' || app.config.DATABASE_URL || app.config.MAILTRAIL_DATA_DIR === 'memory://') return undefined;
  // The commands share the server's database: closing it is the server's business.
  const shared: App = { ...app, database: { ...app.database, close: async () => {} } };
  return startAdminSocket(resolve(app.config.MAILTRAIL_DATA_DIR), async (req: AdminRequest): Promise<AdminResponse> => {
    const out = collector();
    const err = collector();
    const stdin = Object.assign(Readable.from(req.stdin === null ? [] : [req.stdin]), { isTTY: req.stdin === null });
    const io: CommandIo = { stdout: out.stream, stderr: err.stream, stdin, env: process.env, cwd: req.cwd, open: async () => shared };
    const [name, ...args] = req.argv;
    let code: number;
    if (!runsInOwner(req.argv)) code = usageError(`"${name}" does not run through the server`, io);
    else {
      app.log.info({ command: req.argv.slice(0, 2).join(' ') }, 'running a CLI command for the embedded database');
      code = await runCommand(commands[name], args, io);
    }
    return { code, stdout: out.text(), stderr: err.text() };
  });
}

function collector() {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { stream, text: () => text };
}

/**
 * With the embedded database held by a live process, a database command runs inside it, through
 * its socket; `serve` and an owner that does not answer get the one-line refusal. Null: run here.
 */
async function viaOwner(argv: string[]): Promise<number | null> {
  if (argv[0] !== 'serve' && !runsInOwner(argv)) return null;
  const config = loadConfig(process.env);
  if (config.DATABASE_URL || config.MAILTRAIL_DATA_DIR === 'memory://') return null;
  const dataDir = resolve(config.MAILTRAIL_DATA_DIR);
  const holder = liveHolder(dataDir);
  if (!holder) return null;
  const refuse = (why = '') => {
    process.stderr.write(`mailtrail: ${new DataDirInUseError(dataDir, holder).message}${why}\n`);
    return 1;
  };
  if (argv[0] === 'serve') return refuse();
  const stdin = process.stdin.isTTY ? null : await readAll(process.stdin);
  let r: AdminResponse;
  try {
    r = await callAdminSocket(dataDir, { argv, stdin, cwd: process.cwd() });
  } catch (err) {
    return refuse(`; it does not answer on its socket (${(err as Error).message})`);
  }
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  return r.code;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += chunk.toString();
    if (text.length > 8192) break; // the owner refuses more; a password is far shorter
  }
  return text;
}

async function runCommand(command: Command, args: string[], io: CommandIo): Promise<number> {
  try {
    return await command(args, io);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof DataDirInUseError) {
      io.stderr.write(`mailtrail: ${err.message}\n`);
      return err instanceof ConfigError ? 2 : 1;
    }
    if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      return usageError(err.message, io);
    }
    io.stderr.write(`mailtrail: ${(err as Error).stack ?? err}\n`);
    return 1;
  }
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === 'help') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) return usageError(`unknown command "${name}"`);
  let forwarded: number | null;
  try {
    forwarded = await viaOwner(argv);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`mailtrail: ${err.message}\n`);
    return 2;
  }
  return forwarded ?? runCommand(command, args, localIo);
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
