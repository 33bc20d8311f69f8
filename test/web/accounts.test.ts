import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '../../src/db/connect.js';
import { runUser } from '../../src/cli/user.js';
import { closeSession, findUserByEmail, openSession, sessionViewer } from '../../src/web/accounts.js';
import { hashPassword, verifyPassword } from '../../src/web/password.js';
import { runCli } from '../support/cli.js';
import { dialect, testApp, TEST_SECRET, type TestApp } from '../support/app.js';

describe('password hashes', () => {
  it('verifies the right password only, and salts each hash', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    expect(a).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(await verifyPassword('correct horse batterz', a)).toBe(false);
    expect(await verifyPassword('x', 'scrypt$1$1$1$$')).toBe(false);
    expect(await verifyPassword('x', 'bcrypt$whatever')).toBe(false);
  });
});

describe(`accounts on ${dialect}`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp();
  });
  afterAll(async () => t?.close());
  const io = (stdin: NodeJS.ReadableStream & { isTTY?: boolean }) => {
    const out = new PassThrough();
    const err = new PassThrough();
    let o = '';
    let e = '';
    out.on('data', (d) => (o += d));
    err.on('data', (d) => (e += d));
    return { io: { stdout: out, stderr: err, stdin }, out: () => o, err: () => e };
  };
  // runUser closes the database it opened; the test app's stays open for the next case.
  const open = async () => ({ ...t.app, database: { ...t.app.database, close: async () => {} } });

  it('on a terminal, generates a password, prints it once and asks for a change at first login', async () => {
    const tty = Object.assign(Readable.from([]), { isTTY: true });
    const c = io(tty);
    expect(await runUser(['create', '--email', 'Ops@Example.test', '--operator'], open, c.io)).toBe(0);
    const password = c.out().trim();
    expect(password).toMatch(/^[a-z2-9]{20}$/);
    const u = await findUserByEmail(t.app.database.db, 'ops@example.test');
    expect(u).toMatchObject({ role: 'operator', tenant_id: null, must_change_password: true });
    expect(await verifyPassword(password, u!.password_hash)).toBe(true);
    expect(u!.password_hash).not.toContain(password);
    // The same address twice is refused.
    expect(await runUser(['create', '--email', 'ops@example.test', '--operator'], open, io(tty).io)).toBe(1);
  });

  it('refuses bad usage and short passwords on stdin', async () => {
    expect(await runUser(['create', '--email', 'a@b.test'], open, io(Readable.from(['long enough password'])).io)).toBe(2);
    expect(await runUser(['create', '--email', 'a@b.test', '--tenant', 'x', '--operator'], open, io(Readable.from(['long enough password'])).io)).toBe(2);
    expect(await runUser(['create', '--email', 'not-an-address', '--tenant', 'x'], open, io(Readable.from(['long enough password'])).io)).toBe(2);
    const c = io(Readable.from(['short\n']));
    expect(await runUser(['create', '--email', 'a@b.test', '--tenant', 'x'], open, c.io)).toBe(2);
    expect(c.err()).toMatch(/at least 12 characters/);
  });

  it('sessions expire server-side and end at logout', async () => {
    const c = io(Readable.from(['a tenant password\n']));
    expect(await runUser(['create', '--email', 'u@acme.test', '--tenant', 'acme'], open, c.io)).toBe(0);
    const u = (await findUserByEmail(t.app.database.db, 'u@acme.test'))!;
    expect(u).toMatchObject({ role: 'tenant', must_change_password: false });
    expect(await verifyPassword('a tenant password', u.password_hash)).toBe(true);
    const now = new Date();
    const s = await openSession(t.app.database.db, u.id, 60_000, now);
    const v = await sessionViewer(t.app.database.db, s.token, now);
    expect(v?.tenantId).toBe(u.tenant_id);
    expect(v?.csrf).toBe(s.csrf);
    expect(await sessionViewer(t.app.database.db, s.token, new Date(now.getTime() + 60_001))).toBeNull();
    expect(await sessionViewer(t.app.database.db, s.token + 'x', now)).toBeNull();
    await closeSession(t.app.database.db, v!.sessionId);
    expect(await sessionViewer(t.app.database.db, s.token, now)).toBeNull();
  });
});

describe('mailtrail user create (the CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mt-user-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the password from stdin when it is not a terminal', async () => {
    const env = { MAILTRAIL_DATA_DIR: dir, MAILTRAIL_SECRET: TEST_SECRET, MAILTRAIL_LOG_LEVEL: 'silent' };
    const r = await runCli(['user', 'create', '--email', 'cli@acme.test', '--tenant', 'acme'], env, 'piped password 123\n');
    expect(r.stderr).toMatch(/created tenant cli@acme\.test for tenant "acme"/);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    const database = await connectDatabase({ dataDir: dir });
    try {
      const u = await findUserByEmail(database.db, 'cli@acme.test');
      expect(await verifyPassword('piped password 123', u!.password_hash)).toBe(true);
    } finally {
      await database.close();
    }
  });
});
