/**
 * Writes the settings table of docs/configuration.md from the config schema (src/config/schema.ts),
 * between the two markers below; the prose around it is written by hand.
 *
 *   npm run docs:config                 rewrite the table in docs/configuration.md
 *   npm run docs:config -- --check      exit 1 if the file is not current (test/docs does this too)
 *   npm run docs:config -- FILE         another file with the same markers
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { configDocs } from '../src/config/load.js';

export const CONFIG_DOC = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));
export const BEGIN = '<!-- BEGIN settings table: generated from src/config/schema.ts by `npm run docs:config`; do not edit by hand -->';
export const END = '<!-- END settings table -->';

/** The document with its table replaced by the schema's current one. Throws if a marker is missing. */
export function withCurrentTable(doc: string): string {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`the markers are missing or out of order; the table goes between\n${BEGIN}\n${END}`);
  return `${doc.slice(0, start + BEGIN.length)}\n${configDocs()}\n${doc.slice(end)}`;
}

function main(args: string[]): number {
  const check = args.includes('--check');
  const file = resolve(args.find((a) => a !== '--check') ?? CONFIG_DOC);
  const doc = readFileSync(file, 'utf8');
  const current = withCurrentTable(doc);
  if (current === doc) {
    if (!check) process.stdout.write(`${file}: already current\n`);
    return 0;
  }
  if (check) {
    process.stderr.write(`${file}: the settings table differs from src/config/schema.ts: run \`npm run docs:config\`\n`);
    return 1;
  }
  writeFileSync(file, current);
  process.stdout.write(`${file}: settings table rewritten\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`gen-config-docs: ${(err as Error).message}\n`);
    process.exitCode = 2;
  }
}
