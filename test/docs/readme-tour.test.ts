import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialect } from '../support/app.js';
import { cliEnv, repoRoot, runCli, spawnCli, waitFor } from '../support/cli.js';
import { cliTestEnv, type CliTestEnv } from '../support/cli-env.js';
import { freePort } from '../smtp/client.js';

/**
 * Runs the README's "60-second tour" as a newcomer would: terminal 1's commands through the CLI,
 * terminal 2's script in bash, unchanged except for the pasted key and the ports (free ones, so
 * the test can run beside anything listening on 8025/2525). Each `# → X` comment is the output
 * the README promises for that line.
 */
function tourBlocks(): [string, string] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## 60-second tour');
  expect(start, 'README has a "## 60-second tour" section').toBeGreaterThan(0);
  const section = readme.slice(start + 1, readme.indexOf('\n## ', start + 1));
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  expect(blocks).toHaveLength(2);
  return [blocks[0], blocks[1]];
}

function commands(block: string): string[] {
  return block
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
}

function bash(script: string, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', script], { cwd, env: cliEnv({}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe(`README tour on ${dialect}`, () => {
  let dir: string;
  let setup: CliTestEnv;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailtrail-tour-'));
    setup = await cliTestEnv(join(dir, 'data'), { MAILTRAIL_LOG_LEVEL: 'info' });
    env = setup.env;
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await setup?.drop();
  });

  it('gives the outputs it promises', async () => {
    const [terminal1, terminal2] = tourBlocks();
    // `npm ci` has run (the suite runs under it); `npm start` is `mailtrail serve`.
    expect(commands(terminal1)).toEqual([
      'npm ci',
      'npx mailtrail apikey create --tenant acme',
      'npx mailtrail user create --email you@example.com --operator',
      'npm start',
    ]);
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    expect(pkg.scripts.start).toBe('node dist/cli.js serve');
    expect(pkg.bin.mailtrail).toBe('dist/cli.js');

    const created = await runCli(['apikey', 'create', '--tenant', 'acme'], env);
    expect(created.code, created.stderr).toBe(0);
    const key = created.stdout.trim();
    // In a terminal the password is generated and printed; a test has no terminal, so it gives one.
    const user = await runCli(['user', 'create', '--email', 'you@example.com', '--operator'], env, 'tour-password-0123\n');
    expect(user.code, user.stderr).toBe(0);

    const [httpPort, smtpPort] = [await freePort(), await freePort()];
    const server = spawnCli(['serve'], { ...env, MAILTRAIL_HTTP_PORT: String(httpPort), MAILTRAIL_SMTP_PORT: String(smtpPort) });
    let log = '';
    server.stdout!.on('data', (d) => (log += d));
    server.stderr!.on('data', (d) => (log += d));
    const exited = new Promise<number | null>((r) => server.on('close', r));
    try {
      // Every role is up (the SMTP listener starts after HTTP), as when a person reads the log.
      await waitFor(async () => log.includes('"msg":"mailtrail started"'), 60_000).catch((err: Error) => {
        throw new Error(`${err.message}; server output:\n${log}`);
      });

      const keyLine = /^KEY=\S+$/m;
      expect(terminal2, 'terminal 2 starts by pasting the key into KEY=').toMatch(keyLine);
      const script = terminal2
        .replace(keyLine, `KEY=${key}`)
        .replaceAll('localhost:8025', `localhost:${httpPort}`)
        .replaceAll('localhost:2525', `localhost:${smtpPort}`);
      const promised = terminal2
        .split('\n')
        .flatMap((l) => {
          const m = /#\s*→\s*(.+)$/.exec(l);
          return m ? [m[1].trim()] : [];
        });
      expect(promised.length).toBeGreaterThan(5);

      const r = await bash(script, dir);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(r.stdout.trim().split('\n')).toEqual(promised);
    } finally {
      server.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000))]);
      if (code === 'timeout') server.kill('SIGKILL');
    }
    expect(await exited, log).toBe(0);
  }, 180_000);
});
