import { readFileSync } from 'node:fs';
import { parse } from '../parsers/index.js';
import type { ParsePool } from './parse-pool.js';
import type { Parser } from './types.js';

// The parser ships with mailtrail: its version is the package's (src/ and dist/ both sit two
// levels below package.json).
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The parser ingest uses in production. */
export const defaultParser = { parse: (raw: Buffer) => parse(raw), version: `mailtrail-${pkg.version}` } satisfies Parser;

/** The same parser, run on the threads of a parse pool (with its time budget). */
export function pooledParser(pool: ParsePool): Parser {
  return { parse: (raw) => pool.parse(raw), version: defaultParser.version };
}
