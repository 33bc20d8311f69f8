import { describe, expect, it } from 'vitest';
import { jsonSafeCopy } from '../../src/ingest/json-safe.js';

describe('jsonSafeCopy', () => {
  it('keeps a clean value as it is, minus what JSON drops', () => {
    const { json, value } = jsonSafeCopy({ a: 'déjà vu 😀', b: [1, null, true], c: undefined, d: new Date(0) });
    expect(value).toEqual({ a: 'déjà vu 😀', b: [1, null, true], d: '1970-01-01T00:00:00.000Z' });
    expect(JSON.parse(json)).toEqual(value);
  });

  it('drops NUL and unpaired surrogates, keeps pairs', () => {
    const { json, value } = jsonSafeCopy({ s: 'a\u0000b \ud800 c \udc00 d 😀', nested: [{ t: '\u0000' }] });
    expect(value).toEqual({ s: 'ab  c  d 😀', nested: [{ t: '' }] });
    expect(json).not.toMatch(/\\u(0000|d[89a-f])/i);
  });

  it('leaves text that only looks like an escape alone', () => {
    const s = String.raw`C:\u0000 and \ud800`;
    expect(jsonSafeCopy({ s }).value).toEqual({ s });
  });
});
