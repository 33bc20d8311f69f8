import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The shared folder: MAILTRAIL_TEST_SHARED_DIR, else ../shared beside the checkout, else the copy
 * kept in test/fixtures/shared (corpus with its licence, realmta; not the holdout), so a bare
 * clone tests the same.
 */
export const sharedDir =
  process.env.MAILTRAIL_TEST_SHARED_DIR ??
  [resolve(repoRoot, '../shared'), join(repoRoot, 'test/fixtures/shared')].find((d) => existsSync(join(d, 'corpus/labels.jsonl'))) ??
  join(repoRoot, 'test/fixtures/shared');
export const corpusDir = join(sharedDir, 'corpus');
export const realmtaDir = join(sharedDir, 'tools/realmta');

export interface CorpusLabel {
  file: string;
  kind: string;
  is_arf: boolean;
  feedback_types: string[];
  recipients: Array<{
    recipient: string | null;
    reason: string;
    bounce_class: string;
    status: string;
    status_is_sisimai_pseudo: boolean;
    replycode: string;
    feedback_type: string;
  }>;
}

export function corpusLabels(): CorpusLabel[] {
  const path = join(corpusDir, 'labels.jsonl');
  if (!existsSync(path)) throw new Error(`corpus not found at ${path}: set MAILTRAIL_TEST_SHARED_DIR`);
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as CorpusLabel);
}

export function corpusFile(name: string): Buffer {
  return readFileSync(join(corpusDir, 'eml', name));
}

export function corpusFiles(): string[] {
  return readdirSync(join(corpusDir, 'eml')).filter((f) => f.endsWith('.eml')).sort();
}
