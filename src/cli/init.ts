import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startupProblems } from '../config/check.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { generateInto } from '../proof/keys.js';

export interface InitIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: Record<string, string | undefined>;
  cwd: string;
}

export const INIT_USAGE = `usage: mailtrail init [--database-url URL] [--bounce-domain DOMAIN] [--public-url URL]
                     [--data-dir DIR] [--file PATH] [--print]
  writes PATH (default .env, mode 0600) with a generated MAILTRAIL_SECRET, the path of a new
  Ed25519 checkpoint key (DIR/proof-key.pem, mode 0600) and the settings a production start needs;
  asks for the database URL and bounce domain on a terminal when they are not given.
  --print writes the env file to stdout instead. An existing env file or key is never overwritten.
`;

// Values a shell, docker compose's env_file and `node --env-file` all read the same way unquoted.
const PLAIN = /^[A-Za-z0-9_./:@,%+=-]*$/;

/** `mailtrail init`: the settings of a production start, secrets generated. Exit 0, 1 (refused), 2 (usage or bad value). */
export async function runInit(args: string[], io: InitIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'database-url': { type: 'string' },
      'bounce-domain': { type: 'string' },
      'public-url': { type: 'string' },
      'data-dir': { type: 'string' },
      // Not --env-file: Node 20 takes that flag for itself even after the script name.
      file: { type: 'string' },
      print: { type: 'boolean' },
    },
  });
  const fail = (msg: string, code = 2) => (io.stderr.write(`mailtrail init: ${msg}\n`), code);
  const at = (p: string) => (isAbsolute(p) ? p : resolve(io.cwd, p));
  const envFile = at(values.file ?? '.env');
  if (!values.print && existsSync(envFile)) {
    // Idempotent: a second run changes nothing, so `init && serve` in a script is safe to repeat.
    io.stderr.write(`mailtrail init: ${envFile} exists: left unchanged (init never overwrites it; delete it to start over)\n`);
    return 0;
  }

  const ask = io.stdin.isTTY ? createInterface({ input: io.stdin, output: io.stderr }) : undefined;
  let databaseUrl = values['database-url'];
  let bounceDomain = values['bounce-domain'];
  try {
    if (ask && databaseUrl === undefined) databaseUrl = (await ask.question('Postgres URL (postgres://user:password@host:5432/db; empty: embedded database): ')).trim();
    if (ask && bounceDomain === undefined) bounceDomain = (await ask.question('Bounce domain (VERP return paths, its MX points at this server), e.g. bounces.example.com: ')).trim();
  } finally {
    ask?.close();
  }
  if (!bounceDomain) return fail(`--bounce-domain DOMAIN is required (the domain of the return paths; its MX points at mailtrail's SMTP listener)\n${INIT_USAGE}`);

  const dataDir = at(values['data-dir'] ?? io.env.MAILTRAIL_DATA_DIR ?? './data');
  const keyFile = join(dataDir, 'proof-key.pem');
  const settings: Record<string, string> = {
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    MAILTRAIL_DATA_DIR: dataDir,
    MAILTRAIL_SECRET: randomBytes(32).toString('hex'),
    MAILTRAIL_PROOF_KEY_FILE: keyFile,
    MAILTRAIL_BOUNCE_DOMAIN: bounceDomain,
    ...(values['public-url'] ? { MAILTRAIL_PUBLIC_URL: values['public-url'] } : {}),
  };
  // The same validation as start-up, before anything is written: a typo writes no file.
  try {
    loadConfig(settings);
  } catch (err) {
    if (err instanceof ConfigError) return fail(err.message);
    throw err;
  }
  const odd = Object.entries(settings).find(([, v]) => /['\n\r]/.test(v));
  if (odd) return fail(`${odd[0]}: a single quote or a line break cannot be written to an env file`);

  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const keyNote = existsSync(keyFile) ? 'kept the existing checkpoint key' : 'wrote a new checkpoint key';
  if (!existsSync(keyFile)) generateInto(keyFile);
  const problems = await startupProblems(loadConfig(settings));
  if (problems.length) return fail(new ConfigError(problems).message, 1);

  const text = envText(settings);
  if (values.print) io.stdout.write(text);
  else {
    try {
      writeFileSync(envFile, text, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return fail(`${envFile} appeared meanwhile: left unchanged`, 1);
      throw err;
    }
  }
  io.stderr.write(
    `mailtrail init: ${keyNote} ${keyFile} (mode 0600; every node needs the same file)\n` +
      (values.print ? '' : `mailtrail init: wrote ${envFile} (mode 0600: it holds the secret)\n`) +
      `next: set -a && . ${values.print ? './.env' : envFile} && set +a && npx mailtrail config check && npm start\n` +
      (settings.MAILTRAIL_PUBLIC_URL ? '' : 'then: set MAILTRAIL_PUBLIC_URL to where recipients reach the HTTP role (tracking links, unsubscribe)\n') +
      'and: set MAILTRAIL_SMTP_RELAY_URL to your SMTP relay; without it messages wait in queued\n',
  );
  return 0;
}

function envText(settings: Record<string, string>): string {
  const lines = Object.entries(settings).map(([k, v]) => `${k}=${PLAIN.test(v) ? v : `'${v}'`}`);
  return [
    '# mailtrail settings written by `mailtrail init`; keep this file private (it holds MAILTRAIL_SECRET).',
    '# Every setting: docs/configuration.md or `mailtrail config docs`.',
    ...lines,
    ...(settings.MAILTRAIL_PUBLIC_URL ? [] : ['# MAILTRAIL_PUBLIC_URL=https://track.example.com']),
    '# MAILTRAIL_SMTP_RELAY_URL=smtp://127.0.0.1:25',
    '',
  ].join('\n');
}
