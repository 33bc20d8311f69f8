import { describe, expect, it } from 'vitest';
import { checkDeclarations, inferVariables, sampleValues, validateValues, type VariableDecl } from '../../src/templates/variables.js';

const decls: VariableDecl[] = [
  { name: 'name', type: 'text', required: true },
  { name: 'rate', type: 'number', required: true },
  { name: 'due', type: 'date', required: false },
  { name: 'amount', type: 'money', required: true, currency: 'EUR' },
  { name: 'tier', type: 'enum', required: true, options: ['gold', 'silver'] },
  { name: 'extra', type: 'paragraphs', required: false, paragraphs: [{ key: 'late', text: 'Late fee applies.' }, { key: 'thanks', text: 'Thank you.' }] },
  { name: 'note', type: 'free_text', required: false },
  { name: 'city', type: 'text', required: false, default: 'Paris' },
];

describe('variables', () => {
  it('infers the names a template reads, each a required text to start with', () => {
    expect(inferVariables(['Hi {{ name }}', '{% if rate > 1 %}{{ rate }}{% endif %} {{ name }}'])).toEqual([
      { name: 'name', type: 'text', required: true },
      { name: 'rate', type: 'text', required: true },
    ]);
  });

  it('declarations must cover every name used, and be well formed', () => {
    const issues = checkDeclarations([{ name: 'x', type: 'enum', required: true }, { name: 'n', type: 'number', required: false, default: 'abc' }], ['{{ x }} {{ y }}']);
    expect(issues).toEqual([
      { variable: 'x', message: 'an enum needs options' },
      { variable: 'n', message: 'default: must be a number' },
      { variable: 'y', message: 'used by the template but not declared' },
    ]);
  });

  it('valid values become the render scope: typed, money formatted, paragraphs as their texts, defaults filled', () => {
    const r = validateValues(decls, { name: 'Ann', rate: '12.5', amount: 1234.5, tier: 'gold', extra: ['thanks', 'late'] }, 'fr-FR');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect({ ...r.scope }).toEqual({
      name: 'Ann',
      rate: 12.5,
      due: null,
      amount: new Intl.NumberFormat('fr-FR', { style: 'currency', currency: 'EUR' }).format(1234.5),
      tier: 'gold',
      extra: ['Thank you.', 'Late fee applies.'],
      note: null,
      city: 'Paris',
    });
    expect(r.freeText).toBe(false);
  });

  it('each missing, mistyped or unknown value is an issue naming the variable', () => {
    const r = validateValues(decls, { rate: 'ten', due: '31/01/2026', amount: '1.234', tier: 'bronze', extra: ['nope'], nmae: 'typo' }, 'en');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(Object.fromEntries(r.issues.map((i) => [i.variable, i.message]))).toEqual({
      nmae: 'not a variable of this template version',
      name: 'required',
      rate: 'must be a number',
      due: 'must be a date, e.g. 2026-01-31 or 2026-01-31T09:30:00Z',
      amount: 'must be an amount with at most 2 decimals, e.g. 12.50',
      tier: 'must be one of gold, silver',
      extra: 'unknown paragraph nope; one of late, thanks',
    });
  });

  it('free text written by the agent is flagged (the message will wait for release)', () => {
    const r = validateValues(decls, { ...sampleValues(decls), note: 'I added this myself.' }, 'en');
    expect(r.ok && r.freeText).toBe(true);
  });

  it('sample values satisfy their own declarations', () => {
    expect(validateValues(decls, sampleValues(decls), 'en').ok).toBe(true);
  });
});
