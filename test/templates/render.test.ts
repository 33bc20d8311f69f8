import { describe, expect, it } from 'vitest';
import { compileMjml } from '../../src/templates/mjml.js';
import { checkSyntax, renderPart, usedVariables } from '../../src/templates/render.js';

const ok = (r: ReturnType<typeof renderPart>) => {
  if (!r.ok) throw new Error(`render failed: ${r.error}`);
  return r.output;
};

describe('renderPart: engines', () => {
  it('the HTML engine escapes every value; the text engine prints it as is', () => {
    const scope = { name: `<script>alert("x")</script> O'Brien & co` };
    expect(ok(renderPart('html', '<p>{{ name }}</p>', scope))).toBe('<p>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; O&#39;Brien &amp; co</p>');
    expect(ok(renderPart('text', 'Hi {{ name }}', scope))).toBe(`Hi <script>alert("x")</script> O'Brien & co`);
  });

  it('conditional sections and loops over chosen paragraphs', () => {
    const src = '{% if rate > 10 %}Big{% else %}Small{% endif %} {% for p in extra %}[{{ p }}]{% endfor %}';
    expect(ok(renderPart('text', src, { rate: 15, extra: ['a', 'b'] }))).toBe('Big [a][b]');
    expect(ok(renderPart('text', src, { rate: 5, extra: [] }))).toBe('Small ');
  });

  it('strict mode (preview, approval) refuses an undefined variable; lenient prints nothing', () => {
    const r = renderPart('text', 'Hi {{ name }}', {}, true);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/undefined variable: name/);
    expect(ok(renderPart('text', 'Hi {{ name }}', {}))).toBe('Hi ');
  });

  it('an unknown filter is an error, never skipped', () => {
    const r = renderPart('text', '{{ name | shell }}', { name: 'x' });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/undefined filter: shell/);
  });

  it('usedVariables lists top-level names, not loop or assigned names', () => {
    expect(usedVariables('{% assign x = 1 %}{{ a }}{% for p in list %}{{ p }}{{ b.c }}{% endfor %}{{ x }}').sort()).toEqual(['a', 'b', 'list']);
  });
});

describe('renderPart: template injection', () => {
  it('{{ constructor }} and prototype paths reach nothing', () => {
    const scope = { user: { name: 'Ann' }, list: [1, 2] };
    for (const src of ['{{ constructor }}', '{{ user.constructor }}', '{{ user.__proto__ }}', '{{ user.constructor.constructor }}', '{{ list.constructor.name }}', '{{ toString }}', '{{ user.hasOwnProperty }}']) {
      expect(ok(renderPart('text', src, scope)), src).toBe('');
      expect(renderPart('text', src, scope, true).ok, src).toBe(false);
    }
    // Liquid has no call syntax: a JavaScript-style call is a parse error, never run.
    const call = renderPart('text', "{{ user['constructor']['constructor']('return process')() }}", scope);
    expect(call.ok ? call.output : '').not.toMatch(/process|function/i);
  });

  it('a value holding Liquid code prints as text, it does not run', () => {
    const scope = { note: '{{ 7 | times: 6 }}{% for i in (1..3) %}x{% endfor %}' };
    expect(ok(renderPart('text', '{{ note }}', scope))).toBe(scope.note);
    expect(ok(renderPart('html', '{{ note }}', scope))).toBe(scope.note);
  });

  it('huge loops stop at the limits instead of hanging or exhausting memory', () => {
    for (const src of [
      '{% for i in (1..100000000) %}x{% endfor %}',
      '{% for i in (1..10000) %}{% for j in (1..10000) %}x{% endfor %}{% endfor %}',
      '{% assign s = "xxxxxxxxxx" %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}',
    ]) {
      const r = renderPart('text', src, {});
      expect(r.ok, src).toBe(false);
      expect(!r.ok && r.error, src).toMatch(/limit/i);
    }
  });

  it('include, render and layout are refused at parse: no file can be read', () => {
    for (const src of ["{% include '/etc/passwd' %}", "{% render 'x' %}", "{% layout 'x' %}"]) {
      expect(checkSyntax('html', src), src).toMatch(/not allowed/);
    }
  });

  it('a source over the parse limit is refused', () => {
    expect(checkSyntax('text', 'x'.repeat(300_000))).toMatch(/limit/i);
  });
});

describe('compileMjml', () => {
  it('compiles a layout to responsive HTML and keeps the Liquid inside for per-message rendering', async () => {
    const r = await compileMjml('<mjml><mj-body><mj-section><mj-column><mj-text>Hello {{ name }}</mj-text></mj-column></mj-section></mj-body></mjml>');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.html).toMatch(/<!doctype html>/i);
    expect(r.html).toContain('Hello {{ name }}');
    expect(ok(renderPart('html', r.html, { name: '<Ann>' }))).toContain('Hello &lt;Ann&gt;');
  });

  it('refuses an invalid layout and never follows mj-include', async () => {
    const bad = await compileMjml('<mjml><mj-body><mj-column><mj-unknown/></mj-column></mj-body></mjml>');
    expect(bad.ok).toBe(false);
    const inc = await compileMjml('<mjml><mj-body><mj-include path="/etc/passwd" /></mj-body></mjml>');
    if (inc.ok) expect(inc.html).not.toMatch(/root:/);
  });
});
