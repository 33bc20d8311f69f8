import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/cli.js';

/** README.md and every docs/*.md, as [path relative to the repo, text]. */
function userDocs(): Array<[string, string]> {
  const docs = readdirSync(join(repoRoot, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs].map((p) => [p, readFileSync(join(repoRoot, p), 'utf8')]);
}

// Docs state current facts; how a figure or a design came about belongs in commit messages.
const HISTORY_WORDING = /\b(this|last|previous|earlier) session\b|\bpreviously\b|\bwas tried\b|\btried last\b/i;

describe('user docs', () => {
  it.each(userDocs())('%s states current facts, not a history', (_path, text) => {
    const hits = text.split('\n').flatMap((line, i) => (HISTORY_WORDING.test(line) ? [`${i + 1}: ${line.trim()}`] : []));
    expect(hits).toEqual([]);
  });

  it.each(userDocs())('%s links only to files that exist', (path, text) => {
    const broken: string[] = [];
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1].split('#')[0];
      if (!target || /^[a-z]+:/i.test(target)) continue; // anchors, http(s), mailto
      if (!existsSync(resolve(join(repoRoot, dirname(path)), target))) broken.push(m[1]);
    }
    expect(broken).toEqual([]);
  });

  it('the README links to every docs file', () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const unlinked = userDocs()
      .map(([p]) => p)
      .filter((p) => p.startsWith('docs/') && !readme.includes(`](${p})`));
    expect(unlinked).toEqual([]);
  });
});
