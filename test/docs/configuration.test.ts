import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configDocs } from '../../src/config/load.js';
import { SETTINGS } from '../../src/config/schema.js';
import { BEGIN, CONFIG_DOC, END, withCurrentTable } from '../../scripts/gen-config-docs.js';
import { repoRoot } from '../support/cli.js';

function runScript(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts/gen-config-docs.ts'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
}

describe('docs/configuration.md', () => {
  const doc = readFileSync(CONFIG_DOC, 'utf8');

  it('holds the settings table of the current schema', () => {
    expect(withCurrentTable(doc), 'docs/configuration.md is stale: run `npm run docs:config`').toBe(doc);
  });

  it('has a row for every setting', () => {
    const missing = Object.keys(SETTINGS).filter((name) => !doc.includes(`| \`${name}\` |`));
    expect(missing).toEqual([]);
  });
});

describe('scripts/gen-config-docs.ts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailtrail-config-docs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--check fails on a stale table, a run rewrites only the table, then --check passes', () => {
    const file = join(dir, 'stale.md');
    const stale = `# Settings\n\nprose kept\n\n${BEGIN}\n| variable | default | meaning |\n| \`MAILTRAIL_GONE\` | — | removed |\n${END}\n\nmore prose\n`;
    writeFileSync(file, stale);

    const checked = runScript(['--check', file]);
    expect(checked.status).toBe(1);
    expect(checked.stderr).toContain('npm run docs:config');
    expect(readFileSync(file, 'utf8')).toBe(stale);

    expect(runScript([file]).status).toBe(0);
    const written = readFileSync(file, 'utf8');
    expect(written).toBe(`# Settings\n\nprose kept\n\n${BEGIN}\n${configDocs()}\n${END}\n\nmore prose\n`);
    expect(written).not.toContain('MAILTRAIL_GONE');
    expect(runScript(['--check', file]).status).toBe(0);
  });

  it('refuses a file without the markers, naming them', () => {
    const file = join(dir, 'bare.md');
    writeFileSync(file, '# no markers\n');
    const r = runScript([file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(BEGIN);
    expect(readFileSync(file, 'utf8')).toBe('# no markers\n');
  });
});
