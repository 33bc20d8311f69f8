import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from '../../src/parsers/index.js';

/**
 * Parse time must grow linearly with the input, whatever its shape: one backtracking regex on a
 * long run of dashes or blank lines made a 200 KB message take 38 s. Each shape is parsed at
 * 2 KB, 16 KB, 128 KB and 1 MB; every ×8 step in size must cost less than ×MAX_STEP in time. A
 * linear parser gives about ×8, a quadratic one ×64, so the bound leaves room for a loaded
 * machine without letting a quadratic pattern through. The ladder stops at the first step over
 * the bound, so a quadratic parser fails in seconds instead of running for hours at 1 MB.
 */
const SIZES = [2 * 1024, 16 * 1024, 128 * 1024, 1024 * 1024];
const MAX_STEP = 24;
/** Times under this are clock noise: a smaller step baseline would make the ratio meaningless. */
const FLOOR_MS = 2;

const PUNCTUATION = [...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'];

/** Where the adversarial run sits: each container sends the text down a different path. */
const CONTAINERS: Record<string, (body: string) => string> = {
  // A text-only bounce: marker search, the text scanner, the fallbacks.
  'text bounce': (b) => `From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail Returned to Sender\n\n${b}\n`,
  // An HTML-only notice: the tag stripper.
  html: (b) => `From: postmaster@mx.example.net\nSubject: Delivery failure\nContent-Type: text/html\n\n<p>${b}</p>\n`,
  // Quoted-printable: the soft-break decoder.
  'quoted-printable': (b) => `From: MAILER-DAEMON@mx.example.net\nSubject: failure notice\nContent-Transfer-Encoding: quoted-printable\n\n=41${b}\nend=\n`,
  // A DSN whose diagnostic and human part carry the run.
  dsn: (b) =>
    'From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n' +
    `--B\nContent-Type: text/plain\n\n${b}\n--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n` +
    `Final-Recipient: rfc822; someone@example.org\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 ${b.slice(0, 8192)}\n--B--\n`,
  // Not a bounce at all: the classifier's own look at the text.
  'plain mail': (b) => `From: someone@example.org\nSubject: hello\n\n${b}\n`,
};

/** Units repeated into a run; besides punctuation, the shapes regexes meet at every line. */
const SHAPES: Record<string, string> = {
  'blank lines': '\n',
  'CRLF blank lines': '\r\n',
  spaces: ' ',
  tabs: '\t',
  'space-newline': ' \n',
  'unclosed <style': '<style',
  'unclosed <script': '<script ',
  'open <style> without close': '<style>x',
  '<br': '<br ',
  'header-like lines': 'Received: from x\n',
  'X- lines without colon': 'X-----\n',
  'dash lines': '---\n',
  'quoted lines': '> ',
  'address lines': '<a@b.example>: ',
  'status codes': '5.1.1.',
  'encoded words': '=?utf-8?B?',
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timeParse(input: string, reps: number): number {
  const runs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    parse(input);
    runs.push(performance.now() - t);
  }
  return median(runs);
}

/** The worst ×8 step of the ladder (best of a few tries per step: a GC pause is not growth). */
function worstStep(make: (size: number) => string): { ratio: number; at: number; ms: number[] } {
  const ms: number[] = [];
  let worst = 0;
  let at = 0;
  let prev = timeParse(make(SIZES[0]), 3);
  ms.push(prev);
  for (let i = 1; i < SIZES.length; i++) {
    const input = make(SIZES[i]);
    let ratio = Infinity;
    let cur = 0;
    // Seconds-long steps are not noise: only short ones get another try.
    for (let attempt = 0; attempt < 3 && ratio >= MAX_STEP && (attempt === 0 || cur < 1000); attempt++) {
      // Re-measure the baseline with the step: both see the same machine load.
      const base = attempt === 0 ? prev : timeParse(make(SIZES[i - 1]), 3);
      cur = timeParse(input, i === SIZES.length - 1 ? 1 : 3);
      ratio = Math.min(ratio, cur / Math.max(base, FLOOR_MS));
    }
    ms.push(cur);
    if (ratio > worst) {
      worst = ratio;
      at = SIZES[i];
    }
    if (ratio >= MAX_STEP) break;
    prev = cur;
  }
  return { ratio: worst, at, ms };
}

const runOf = (unit: string) => (size: number) => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);

function expectLinear(name: string, make: (size: number) => string): void {
  const r = worstStep(make);
  expect(r.ratio, `${name}: ×${r.ratio.toFixed(1)} time for ×8 size at ${r.at} bytes (ms: ${r.ms.map((m) => m.toFixed(1)).join(', ')})`).toBeLessThan(MAX_STEP);
}

describe('parse time is linear in the input', () => {
  describe.each(Object.entries(CONTAINERS))('%s', (_name, wrap) => {
    it('long runs of each ASCII punctuation character', () => {
      for (const c of PUNCTUATION) expectLinear(`run of ${JSON.stringify(c)}`, (n) => wrap(runOf(c)(n)));
    });

    it.each(Object.entries(SHAPES))('%s', (name, unit) => {
      expectLinear(name, (n) => wrap(runOf(unit)(n)));
    });
  });

  it('holds for random short units of punctuation, whitespace and letters', () => {
    const alphabet = [...PUNCTUATION, ' ', '\t', '\n', 'a', 'Z', '0', '<', '>'];
    const containers = Object.values(CONTAINERS);
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...alphabet), minLength: 1, maxLength: 6 }), fc.nat(containers.length - 1), (unit, c) => {
        expectLinear(`unit ${JSON.stringify(unit)} in container ${c}`, (n) => containers[c](runOf(unit)(n)));
      }),
      // A failing case is already minimal enough to read; shrinking would re-time it many times.
      { numRuns: 25, endOnFailure: true },
    );
  });
});
