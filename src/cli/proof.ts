import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { App } from '../app.js';
import { isUuid } from '../core/ids.js';
import { checkChain } from '../proof/check.js';
import { signCheckpoints } from '../proof/checkpoints.js';
import type { Bundle } from '../proof/bundle.js';
import { exportBundle } from '../proof/export.js';
import { SYSTEM_CHAIN } from '../proof/format.js';
import { resolveProofKey } from '../proof/keys.js';
import { verifyBundle, type Verification } from '../proof/verify.js';
import { openApp } from '../server/bootstrap.js';

export interface ProofIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
  /** How to reach the database (default: open it from `env`); the embedded database's owner passes its own. */
  open?: () => Promise<App>;
  /** The directory `--out` is relative to (default: the process's). */
  cwd?: string;
}

const USAGE = `usage: mailtrail proof <command>

  export --tenant T [--message ID [--open] | --from ISO --to ISO] --out FILE
                                    write a self-contained proof bundle; --open adds the salt and clear
                                    sender, recipient and subject that open the message's commitments
  export --system [--from ISO --to ISO] --out FILE                    the same for the system chain (stored reports)
  verify FILE [--key PUBLIC.pem] [--tsa-ca CA.pem]
                                    check a bundle offline (no database, no network); --key pins the trusted
                                    key, --tsa-ca the CA the timestamp authority's certificate must chain to
  check --tenant T | --system       verify a whole chain against the database now
  checkpoint                        sign a checkpoint of every chain that has new entries now
`;

/** `mailtrail proof ...`. Exit code 0 = verified/done, 1 = verification failed, 2 = bad usage. */
export async function runProof(args: string[], io: ProofIo): Promise<number> {
  const [sub, ...rest] = args;
  const usage = (message: string) => {
    io.stderr.write(`mailtrail proof: ${message}\n${USAGE}`);
    return 2;
  };
  if (sub === 'verify') {
    const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { key: { type: 'string' }, 'tsa-ca': { type: 'string' } } });
    if (positionals.length !== 1) return usage('verify: expected one bundle FILE');
    let bundle: unknown;
    try {
      bundle = JSON.parse(await readFile(positionals[0], 'utf8'));
    } catch (err) {
      io.stderr.write(`mailtrail proof: cannot read ${positionals[0]}: ${(err as Error).message}\n`);
      return 1;
    }
    const trustedKeyPem = values.key ? await readFile(values.key, 'utf8') : undefined;
    const tsaCaPem = values['tsa-ca'] ? await readFile(values['tsa-ca'], 'utf8') : undefined;
    const result = verifyBundle(bundle, { trustedKeyPem, tsaCaPem });
    io.stdout.write(report(result, trustedKeyPem !== undefined));
    if (result.ok) io.stdout.write(`${scopeNote(bundle as Bundle)}\n`);
    return result.ok ? 0 : 1;
  }
  if (sub === 'export') {
    const { values } = parseArgs({
      args: rest,
      options: {
        tenant: { type: 'string' },
        system: { type: 'boolean' },
        message: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        out: { type: 'string' },
        open: { type: 'boolean' },
      },
    });
    if (!values.tenant === !values.system || !values.out) return usage('export: --tenant T (or --system) and --out are required');
    if (values.system && values.message) return usage('export: the system chain holds no messages');
    if (values.message && (values.from || values.to)) return usage('export: give --message or --from/--to, not both');
    if (values.message && !isUuid(values.message)) return usage(`export: --message ${values.message} is not a message id`);
    if (values.open && !values.message) return usage('export: --open opens one message\'s commitments: give --message');
    const from = values.from ? new Date(values.from) : undefined;
    const to = values.to ? new Date(values.to) : undefined;
    if ((from && Number.isNaN(from.getTime())) || (to && Number.isNaN(to.getTime()))) return usage('export: --from/--to must be ISO dates');
    return withApp(io, async (app) => {
      const chain = values.system ? SYSTEM_CHAIN : await findTenant(app, values.tenant as string);
      if (!chain) return fail(io, `no tenant "${values.tenant}"`);
      if (values.message) {
        const msg = await app.database.db.selectFrom('messages').select('id').where('id', '=', values.message).where('tenant_id', '=', chain).executeTakeFirst();
        if (!msg) return fail(io, `no message ${values.message} in tenant "${values.tenant}"`);
      }
      const bundle = await exportBundle(app, chain, { messageId: values.message, from, to, open: values.open === true });
      await writeFile(resolve(io.cwd ?? '.', values.out as string), `${JSON.stringify(bundle, null, 1)}\n`, { mode: 0o600 });
      const entries = bundle.segments.reduce((n, s) => n + s.entries.length, 0);
      io.stderr.write(
        `wrote ${values.out}: ${entries} entries, ${bundle.checkpoints.length} checkpoints (${bundle.timestamps?.length ?? 0} with a TSA timestamp), ${bundle.reports.length} reports; key ${bundle.public_key.key_id}\n`,
      );
      return 0;
    });
  }
  if (sub === 'check') {
    const { values } = parseArgs({ args: rest, options: { tenant: { type: 'string' }, system: { type: 'boolean' } } });
    if (!values.tenant === !values.system) return usage('check: --tenant T or --system is required');
    return withApp(io, async (app) => {
      const chain = values.system ? SYSTEM_CHAIN : await findTenant(app, values.tenant as string);
      if (!chain) return fail(io, `no tenant "${values.tenant}"`);
      const result = await checkChain(app, chain);
      io.stdout.write(report(result, true));
      return result.ok ? 0 : 1;
    });
  }
  if (sub === 'checkpoint') {
    return withApp(io, async (app) => {
      const n = await signCheckpoints(app.database.db, resolveProofKey(app.config), app.clock.now());
      io.stdout.write(`signed ${n} checkpoint(s)\n`);
      return 0;
    });
  }
  return usage(sub ? `unknown command "${sub}"` : 'expected a command');
}

async function withApp(io: ProofIo, fn: (app: App) => Promise<number>): Promise<number> {
  const app = await (io.open ? io.open() : openApp(io.env, { migrate: true }));
  try {
    return await fn(app);
  } finally {
    await app.database.close();
  }
}

function fail(io: ProofIo, message: string): number {
  io.stderr.write(`mailtrail proof: ${message}\n`);
  return 1;
}

/** A tenant by name, or by id. */
async function findTenant(app: App, nameOrId: string): Promise<string | null> {
  const row = await app.database.db
    .selectFrom('tenants')
    .select('id')
    .where((eb) => (isUuid(nameOrId) ? eb.or([eb('name', '=', nameOrId), eb('id', '=', nameOrId)]) : eb('name', '=', nameOrId)))
    .executeTakeFirst();
  return row?.id ?? null;
}

/** What a verified bundle of this scope proves (README: "What a bundle proves"). */
function scopeNote(b: Bundle): string {
  const chain = `chain ${b.chain}${b.tenant ? ` (tenant "${b.tenant.name}")` : ''}`;
  if (b.scope.message) {
    return `scope: message ${b.scope.message} of ${chain}: each entry shown existed, unchanged, by its checkpoint's time; completeness needs a tenant export`;
  }
  const range = b.scope.from || b.scope.to ? `entries recorded ${b.scope.from ?? '…'} to ${b.scope.to ?? '…'}` : 'the whole chain';
  return `scope: ${range} of ${chain}, unbroken: nothing in it was edited, deleted, inserted or reordered`;
}

function report(r: Verification, pinned: boolean): string {
  const lines: string[] = [];
  if (r.ok) {
    lines.push(`OK: ${r.entries} entries verified (${r.contents} with content) under ${r.checkpoints} signed checkpoint(s)`);
  } else {
    lines.push(`FAILED: ${r.problems.length} problem(s)`);
    for (const p of r.problems) lines.push(`  ${p.at}: ${p.problem}`);
  }
  for (const c of r.coverage) {
    lines.push(
      c.tsa
        ? `time: entries ${c.from}..${c.to} existed by ${c.tsa.genTime}, by the time-stamping authority ${c.tsa.name}`
        : `time: entries ${c.from}..${c.to} existed by ${c.at} by our own clock only (checkpoint ${c.checkpoint}, no third-party timestamp)`,
    );
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  if (r.keyId) {
    lines.push(
      pinned
        ? `signing key ${r.keyId} (the key you trust)`
        : `signing key ${r.keyId}: compare it with the operator's published key (GET /v1/proof/public-key), or pass --key`,
    );
  }
  return `${lines.join('\n')}\n`;
}
