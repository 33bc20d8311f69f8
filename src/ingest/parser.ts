import { readFileSync } from 'node:fs';
import { parse } from '../parsers/index.js';
import type { Parser } from './types.js';

// The parser ships with mailtrail: its version is the package's (src/ and dist/ both sit two
// levels below package.json).
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The parser ingest uses in production. */
export const defaultParser: Parser = { parse: (raw) => parse(raw), version: `mailtrail-${pkg.version}` };
