#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError, configDocs, describeConfig, loadConfig } from './config/load.js';
import { migrate } from './db/connect.js';
import { createApiKey, ensureTenant } from './db/tenants.js';
import { runProof } from './cli/proof.js';
import { runParse } from './cli/parse.js';
import { runReprocess } from './cli/reprocess.js';
import { runUser } from './cli/user.js';
import { openApp } from './server/bootstrap.js';
import { ROLES, serve, type Role } from './server/serve.js';

type Command = (args: string[]) => Promise<number>;

const USAGE = `usage: mailtrail <command>

  serve [--role http|smtp|worker]...   start the roles (all by default)
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
  parse: (args) => runParse(args, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }),
  reprocess: (args) => runReprocess(args, () => openApp(process.env, { migrate: true }), { stdout: process.stdout, stderr: process.stderr }),
  user: (args) => runUser(args, () => openApp(process.env, { migrate: true }), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }),
  proof: (args) => runProof(args, { stdout: process.stdout, stderr: process.stderr, env: process.env }),
  serve: async (args) => {
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
    app.log.info({ roles, database: app.database.dialect }, 'mailtrail started');
    const signal = await signalled;
    app.log.info({ signal }, 'shutting down: no new work, finishing in-flight work');
    const force = setTimeout(() => {
      app.log.error({ code: 'MT_ERR_SHUTDOWN_TIMEOUT' }, 'shutdown timed out; exiting');
      process.exit(1);
    }, app.config.MAILTRAIL_SHUTDOWN_TIMEOUT);
    force.unref();
    await running.stop();
    await app.database.close();
    app.log.info('stopped');
    return 0;
  },
  db: async ([sub]) => {
    if (sub !== 'migrate') return usageError('db: expected "migrate"');
    const app = await openApp(process.env);
    try {
      const r = await migrate(app.database.db);
      const applied = r.results?.filter((x) => x.status === 'Success').map((x) => x.migrationName) ?? [];
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
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
    for (const [k, v] of Object.entries(describeConfig(config))) console.log(`${k}=${v}`);
    return 0;
  },
  apikey: async ([sub, ...args]) => {
    if (sub !== 'create') return usageError('apikey: expected "create"');
    const { values } = parseArgs({ args, options: { tenant: { type: 'string' }, label: { type: 'string' } } });
    if (!values.tenant) return usageError('apikey create: --tenant NAME is required');
    const app = await openApp(process.env, { migrate: true });
    try {
      const tenant = await ensureTenant(app.database.db, values.tenant);
      const key = await createApiKey(app.database.db, tenant.id, values.label);
      console.log(key.key);
      console.error(`created key ${key.prefix} (id ${key.id}) for tenant "${tenant.name}"; it is shown only this once`);
    } finally {
      await app.database.close();
    }
    return 0;
  },
};

function usageError(message: string): number {
  process.stderr.write(`mailtrail: ${message}\n${USAGE}`);
  return 2;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === 'help') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) return usageError(`unknown command "${name}"`);
  try {
    return await command(args);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`mailtrail: ${err.message}\n`);
      return 2;
    }
    if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      return usageError(err.message);
    }
    process.stderr.write(`mailtrail: ${(err as Error).stack ?? err}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
