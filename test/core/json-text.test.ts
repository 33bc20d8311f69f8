import { describe, expect, it } from 'vitest';
import { findJsonTextIssue, textProblem } from '../../src/core/json-text.js';

describe('JSON text checks', () => {
  it('finds NUL and lone surrogates, and accepts pairs', () => {
    expect(textProblem('a\u0000b')).toBe('nul');
    expect(textProblem('\ud800')).toBe('lone_surrogate');
    expect(textProblem('x\udc00')).toBe('lone_surrogate');
    expect(textProblem('\udc00\ud800')).toBe('lone_surrogate');
    expect(textProblem('😀 café')).toBeNull();
  });

  it('names the first issue in document order, keys included', () => {
    expect(findJsonTextIssue({ a: 'ok', b: ['x', { c: '\u0000' }], d: '\ud800' }, 10)).toEqual({ path: ['b', 1, 'c'], problem: 'nul' });
    expect(findJsonTextIssue({ ['k\ud800']: 1 }, 10)).toEqual({ path: ['k\ud800'], problem: 'lone_surrogate' });
    expect(findJsonTextIssue({ a: [1, true, null, 'fine'] }, 10)).toBeNull();
  });

  it('bounds depth without recursion, at 100,000 levels', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    expect(findJsonTextIssue(deep, 64)).toMatchObject({ problem: 'too_deep' });
    expect(findJsonTextIssue(deep, 64)!.path).toHaveLength(64);
    let ok: unknown = 1;
    for (let i = 0; i < 64; i++) ok = [ok];
    expect(findJsonTextIssue(ok, 64)).toBeNull();
  });
});
