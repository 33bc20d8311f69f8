import { parseArgs } from 'node:util';
import type { App } from '../app.js';
import { ensureTenant } from '../db/tenants.js';
import { createUser, findUserByEmail, isEmailLike, normalizeEmail } from '../web/accounts.js';
import { generatePassword, passwordProblem } from '../web/password.js';

export interface UserIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

export const USER_USAGE = 'usage: mailtrail user create --email EMAIL (--tenant NAME | --operator)\n' +
  '  the password is read from stdin when it is not a terminal; otherwise one is generated, printed once, and must be changed at first login\n';

const MAX_STDIN = 4096;

async function readPassword(stdin: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stdin) {
    text += chunk.toString();
    if (text.length > MAX_STDIN) throw new Error('password on stdin is too long');
  }
  // One line: the trailing newline of `echo` or a file is not part of the password.
  return text.replace(/\r?\n$/, '');
}

/** `mailtrail user create`: a dashboard account for a tenant or an operator. Exit 0, 1 (exists), 2 (usage). */
export async function runUser(args: string[], open: () => Promise<App>, io: UserIo): Promise<number> {
  const [sub, ...rest] = args;
  const fail = (msg: string) => (io.stderr.write(`mailtrail user: ${msg}\n${USER_USAGE}`), 2);
  if (sub !== 'create') return fail('expected "create"');
  const { values } = parseArgs({ args: rest, options: { email: { type: 'string' }, tenant: { type: 'string' }, operator: { type: 'boolean' } } });
  if (!values.email || !isEmailLike(values.email.trim())) return fail('--email EMAIL is required (an address)');
  if (!!values.tenant === !!values.operator) return fail('give exactly one of --tenant NAME or --operator');

  const fromStdin = !io.stdin.isTTY;
  const password = fromStdin ? await readPassword(io.stdin) : generatePassword();
  const problem = passwordProblem(password);
  if (problem) return fail(`the password on stdin ${problem}`);

  const app = await open();
  try {
    const db = app.database.db;
    if (await findUserByEmail(db, values.email)) {
      io.stderr.write(`mailtrail user: a user ${normalizeEmail(values.email)} already exists\n`);
      return 1;
    }
    const tenant = values.tenant ? await ensureTenant(db, values.tenant) : null;
    const user = await createUser(db, { email: values.email, tenantId: tenant?.id ?? null, password, mustChange: !fromStdin });
    if (!fromStdin) io.stdout.write(`${password}\n`);
    io.stderr.write(
      `created ${user.role} ${user.email}${tenant ? ` for tenant "${tenant.name}"` : ''} (id ${user.id})` +
        (fromStdin ? '\n' : '; the password above is shown only this once and must be changed at first login\n'),
    );
    return 0;
  } finally {
    await app.database.close();
  }
}
