import { describe, expect, it } from 'vitest';
import { appendPixel, rewriteLinks, trackableUrl } from '../../src/send/links.js';
import { relayFailure, retryDelayMs } from '../../src/send/relay-reply.js';
import { placeholders, renderTemplate } from '../../src/send/template.js';

const tag = (u: string) => `T(${u})`;

describe('rewriteLinks', () => {
  it('rewrites http(s) hrefs of a and area, either quote, decoding entities', () => {
    const html = `<a href="https://a.example/x?y=1&amp;z=2">a</a> <A class="b" HREF='http://b.example/'>b</A> <area shape="rect" href="https://c.example/c">`;
    const r = rewriteLinks(html, null, tag);
    expect(r.html).toBe(`<a href="T(https://a.example/x?y=1&amp;z=2)">a</a> <A class="b" HREF="T(http://b.example/)">b</A> <area shape="rect" href="T(https://c.example/c)">`);
    expect(r.links).toEqual(['https://a.example/x?y=1&z=2', 'http://b.example/', 'https://c.example/c']);
  });

  it('leaves other schemes, relative links, images and malformed or overlong URLs alone', () => {
    const html = `<a href="mailto:x@y.example">m</a><a href="tel:+331">t</a><a href="/rel">r</a><img src="https://img.example/i.png"><a href="https://">e</a><a href="https://l.example/${'x'.repeat(2100)}">l</a><a href="javascript:alert(1)">j</a>`;
    const r = rewriteLinks(html, null, tag);
    expect(r.html).toBe(html);
    expect(r.links).toEqual([]);
  });

  it('rewrites URLs in text, keeping sentence punctuation outside the link', () => {
    const r = rewriteLinks(null, 'See https://a.example/x. Or (https://b.example/y), then https://a.example/x!', tag);
    expect(r.text).toBe('See T(https://a.example/x). Or (T(https://b.example/y)), then T(https://a.example/x)!');
    expect(r.links).toEqual(['https://a.example/x', 'https://b.example/y']);
  });

  it('escapes the rewritten URL for the attribute', () => {
    expect(rewriteLinks('<a href="https://a.example/">a</a>', null, () => 'https://t.example/c/"><script>').html).toBe('<a href="https://t.example/c/&quot;&gt;&lt;script&gt;">a</a>');
  });
});

describe('trackableUrl', () => {
  it('normalizes http(s) URLs and refuses everything a redirect must never go to', () => {
    expect(trackableUrl('https://Shop.Example/a b')).toBeNull();
    expect(trackableUrl('https://Shop.Example/p?q=1')).toBe('https://shop.example/p?q=1');
    for (const bad of ['//evil.example', 'javascript:alert(1)', 'https://a.example\\@evil.example', 'https://a.example/\r\nX: y', 'ftp://a.example/', 'data:text/html,x']) {
      expect(trackableUrl(bad), bad).toBeNull();
    }
  });
});

describe('appendPixel', () => {
  it('puts the pixel before </body>, or at the end', () => {
    expect(appendPixel('<html><body>x</BODY></html>', 'https://t/o/1')).toMatch(/x<img src="https:\/\/t\/o\/1"[^>]*\/><\/BODY><\/html>$/);
    expect(appendPixel('<p>x</p>', 'https://t/o/1')).toMatch(/^<p>x<\/p><img /);
  });
});

describe('templates', () => {
  it('fills placeholders, escaping HTML values only in HTML', () => {
    expect(placeholders('Hi {{ name }}, {{name}} {{order_id}}')).toEqual(['name', 'order_id']);
    expect(renderTemplate('<b>{{name}}</b> {{n}} {{missing}}', { name: '<i>&', n: 3 }, true)).toBe('<b>&lt;i&gt;&amp;</b> 3 ');
    expect(renderTemplate('{{name}}', { name: '<i>' }, false)).toBe('<i>');
    expect(renderTemplate('{{constructor}}', {}, false)).toBe('');
  });
});

describe('relayFailure', () => {
  it('classifies relay replies with the parser rules', () => {
    expect(relayFailure({ responseCode: 550, response: '550 5.1.1 <a@b.example>: Recipient address rejected: User unknown', command: 'RCPT TO' }, 'a@b.example')).toMatchObject({
      permanent: true, reason: 'userunknown', bounce_class: 'hard', status: '5.1.1', replycode: '550', command: 'RCPT',
    });
    expect(relayFailure({ responseCode: 554, response: '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org', command: 'RCPT TO' }, 'a@b.example')).toMatchObject({
      permanent: true, bounce_class: 'soft',
    });
    expect(relayFailure({ responseCode: 452, response: '452 4.2.2 Mailbox full', command: 'RCPT TO' }, 'a@b.example')).toMatchObject({ permanent: false, bounce_class: 'soft', replycode: '452' });
  });
  it('treats a failure with no reply as our network trouble: temporary, soft', () => {
    expect(relayFailure(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:25'), { code: 'ESOCKET', command: 'CONN' }), 'a@b.example')).toMatchObject({
      permanent: false, reason: 'networkerror', bounce_class: 'soft', replycode: '',
    });
    expect(relayFailure(undefined, 'a@b.example').permanent).toBe(false);
  });
  it('backs off from 1 minute, doubling, to at most an hour', () => {
    expect([1, 2, 3, 7, 20].map(retryDelayMs)).toEqual([60_000, 120_000, 240_000, 3_600_000, 3_600_000]);
  });
});
