/**
 * Checks on decoded JSON (a request body, a query) that no schema field can forget: text the
 * database refuses or garbles (NUL, lone UTF-16 surrogates) and nesting deep enough to exhaust a
 * recursive walker. Iterative, so a 10,000-level document costs a loop, not the stack.
 */

export type JsonTextProblem = 'nul' | 'lone_surrogate' | 'too_deep';

export interface JsonTextIssue {
  /** Where, as object keys and array indexes; for a bad key, the path of the key itself. */
  path: Array<string | number>;
  problem: JsonTextProblem;
}

// Code units, not code points (no `u` flag): a high half not followed by a low one, or a low half
// not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a string may not be stored, or null. `textProblem('a\u0000b')` → `'nul'`. */
export function textProblem(s: string): JsonTextProblem | null {
  if (s.includes('\u0000')) return 'nul';
  if (LONE_SURROGATE.test(s)) return 'lone_surrogate';
  return null;
}

/**
 * The first string (value or key) in `value` that may not be stored, or the first place nested
 * deeper than `maxDepth` objects/arrays; null when there is none. Top-level containers are depth 1.
 */
export function findJsonTextIssue(value: unknown, maxDepth: number): JsonTextIssue | null {
  const stack: Array<{ v: unknown; path: Array<string | number> }> = [{ v: value, path: [] }];
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (typeof v === 'string') {
      const p = textProblem(v);
      if (p) return { path, problem: p };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (path.length >= maxDepth) return { path, problem: 'too_deep' };
    const entries: Array<[string | number, unknown]> = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
    // Reversed onto the stack so the first issue in document order is found first.
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, x] = entries[i];
      if (typeof k === 'string') {
        const p = textProblem(k);
        if (p) return { path: [...path, k], problem: p };
      }
      stack.push({ v: x, path: [...path, k] });
    }
  }
  return null;
}

/** The 400 message for an issue, e.g. `must not contain NUL (\\u0000) characters`. */
export function jsonTextMessage(problem: JsonTextProblem, maxDepth: number): string {
  if (problem === 'nul') return 'must not contain NUL (\\u0000) characters';
  if (problem === 'lone_surrogate') return 'must be well-formed Unicode (it holds a lone UTF-16 surrogate)';
  return `is nested deeper than ${maxDepth} levels`;
}
