/** The console's pure parts: the HTML escaper, the message-body sanitiser, digest tokens, list entries. */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { digestText } from '../../src/digest/compose.js';
import { signToken, verifyToken } from '../../src/digest/token.js';
import { inScope, parseEntryValue, parseScope, senderMatches } from '../../src/lists/entry.js';
import { escapeHtml, html, trusted } from '../../src/ui/html.js';
import { safeHtml } from '../../src/ui/message-body.js';

describe('html tagged template', () => {
  it('escapes every interpolated string, in text and in attributes', () => {
    const v = `<script>"x" & 'y' \`z\`</script>`;
    expect(html`<p title="${v}">${v}</p>`.value).toBe(
      '<p title="&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39; &#96;z&#96;&lt;/script&gt;">&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39; &#96;z&#96;&lt;/script&gt;</p>',
    );
  });
  it('nests built fragments and arrays without escaping them twice; drops null, undefined and booleans', () => {
    const inner = html`<b>${'a<b'}</b>`;
    expect(html`${[inner, 'c&d', null, undefined, false, 3]}`.value).toBe('<b>a&lt;b</b>c&amp;d3');
    expect(html`${trusted('<br>')}`.value).toBe('<br>');
  });
  it('shows direction controls as code points, so a name cannot pretend to be another', () => {
    expect(html`<td>${'invoice\u202efdp.exe'}</td>`.value).toBe('<td>invoice[U+202E]fdp.exe</td>');
    expect(html`${'security\u202emoc.lapyap@evil.test'}`.value).toBe('security[U+202E]moc.lapyap@evil.test');
    expect(html`${'a\u2066b\u2069c\u202ad\u202c'}`.value).toBe('a[U+2066]b[U+2069]c[U+202A]d[U+202C]');
    // Right-to-left text and its direction marks are text, not a disguise.
    expect(html`${'\u05e9\u05dc\u05d5\u05dd\u200f'}`.value).toBe('\u05e9\u05dc\u05d5\u05dd\u200f');
    const text = digestText({
      recipient: 'r@example.net',
      rows: [
        {
          mailFrom: 'security\u202emoc.lapyap@evil.test',
          subject: 'Your invoice\u202efdp.exe',
          score: 0.99,
          createdAt: new Date(0),
          links: { release: 'r', delete: 'd', allow: 'a' },
        },
      ],
      linkDays: 7,
      unsubscribe: 'u',
    });
    expect(text).toContain('From: security[U+202E]moc.lapyap@evil.test\n');
    expect(text).toContain('Subject: Your invoice[U+202E]fdp.exe\n');
  });
  it('never lets a metacharacter through (property)', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const out = escapeHtml(s);
        expect(out).not.toMatch(/[<>"'`]/);
        expect(out.replace(/&(amp|lt|gt|quot|#39|#96);/g, '')).not.toContain('&');
      }),
    );
  });
});

describe('message body sanitiser', () => {
  const hostile = `<p onclick="x()">Hi <b>there</b></p><script>alert(1)</script><style>p{}</style>
    <a href="javascript:alert(1)">link</a><img src="http://t.example/p.gif" alt="px"><iframe src="http://e"></iframe>
    <svg><script>alert(2)</script></svg><div style="background:url(http://t.example/bg)">x</div>`;
  it('keeps text and safe tags, drops scripts, styles, frames, handlers and style attributes', () => {
    const out = safeHtml(hostile, { loadImages: false });
    expect(out.html).toContain('<p>Hi <b>there</b></p>');
    expect(out.html).not.toMatch(/<script|<style|<iframe|<svg|onclick|style=|alert\(2\)|<img|<a /i);
    expect(out.html).toContain('<span class="href">[javascript:alert(1)]</span>');
    expect(out.html).toContain('[image: px]');
    expect(out).toMatchObject({ remoteImages: 1, links: 1 });
  });
  it('loads http(s) images only when asked', () => {
    expect(safeHtml(hostile, { loadImages: true }).html).toContain(
      '<img src="http://t.example/p.gif" alt="px">',
    );
    expect(safeHtml('<img src="javascript:x">', { loadImages: true }).html).not.toContain('<img');
  });
  it('escapes entity-decoded text again', () => {
    expect(safeHtml('<p>&lt;script&gt;</p>', { loadImages: false }).html).toBe('<p>&lt;script&gt;</p>');
  });
});

describe('digest tokens', () => {
  const key = Buffer.alloc(32, 7);
  const claim = { row: 'r1', to: 'a@b.example', act: 'release' as const, exp: 2_000_000_000 };
  it('verifies what it signed, and refuses a changed claim, a changed MAC, another key, an expired one', () => {
    const t = signToken(key, claim);
    expect(verifyToken(key, t, 0)).toEqual({ ok: true, claim });
    const [body, mac] = t.split('.') as [string, string];
    const other = Buffer.from(JSON.stringify({ ...claim, row: 'r2' })).toString('base64url');
    expect(verifyToken(key, `${other}.${mac}`, 0)).toEqual({ ok: false, code: 'TOKEN_FORGED' });
    expect(verifyToken(key, `${body}.${mac.slice(1)}A`, 0)).toEqual({ ok: false, code: 'TOKEN_FORGED' });
    expect(verifyToken(Buffer.alloc(32, 8), t, 0)).toEqual({ ok: false, code: 'TOKEN_FORGED' });
    expect(verifyToken(key, t, 2_000_000_000_000)).toEqual({ ok: false, code: 'TOKEN_EXPIRED' });
    expect(verifyToken(key, 'nonsense', 0)).toEqual({ ok: false, code: 'TOKEN_MALFORMED' });
    // Other spellings of the same MAC bytes (a base64url decoder skips what it cannot read, and the last
    // character's low bits are padding): each would be another single-use token for the same action.
    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = ALPHABET.indexOf(mac.slice(-1));
    const samePadding = ALPHABET[(last & 0x30) | ((last + 1) & 0x0f)] as string;
    expect(
      Buffer.from(`${mac.slice(0, -1)}${samePadding}`, 'base64url').equals(Buffer.from(mac, 'base64url')),
    ).toBe(true);
    for (const spelling of [
      `${mac}=`,
      `${mac}!`,
      `${mac}%21`,
      `!${mac}`,
      `${mac.slice(0, -1)}${samePadding}`,
    ])
      expect(verifyToken(key, `${body}.${spelling}`, 0), spelling).toEqual({
        ok: false,
        code: 'TOKEN_FORGED',
      });
  });
  it('reads a subscription claim (recipient only); a row action without a row, or an unknown act, is malformed', () => {
    const key = Buffer.alloc(32, 7);
    const sub = { to: 'a@b.example', act: 'digests', exp: 1_900_000_000 } as const;
    expect(verifyToken(key, signToken(key, sub), 0)).toEqual({ ok: true, claim: sub });
    // Extra fields in a signed subscription claim are dropped, not carried to the caller.
    const withRow = signToken(key, { ...sub, row: 'r1' } as typeof sub);
    expect(verifyToken(key, withRow, 0)).toEqual({ ok: true, claim: sub });
    const signed = (claim: unknown) => {
      const body = Buffer.from(JSON.stringify(claim)).toString('base64url');
      return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
    };
    for (const bad of [
      { to: 'a@b.example', act: 'release', exp: 1_900_000_000 },
      { to: 'a@b.example', act: 'unsubscribe', exp: 1_900_000_000 },
      { act: 'digests', exp: 1_900_000_000 },
      { to: 'a@b.example', act: 'digests', exp: '1900000000' },
      null,
      42,
    ])
      expect(verifyToken(key, signed(bad), 0)).toEqual({ ok: false, code: 'TOKEN_MALFORMED' });
  });
});

describe('list entries', () => {
  it('reads addresses, @domains and networks, and refuses anything else, or a network too wide', () => {
    expect(parseEntryValue(' Bob@Example.COM ')).toEqual({ kind: 'sender', value: 'bob@example.com' });
    expect(parseEntryValue('@example.com')).toEqual({ kind: 'domain', value: '@example.com' });
    expect(parseEntryValue('10.0.0.0/8')).toEqual({ kind: 'network', value: '10.0.0.0/8' });
    expect(parseEntryValue('2001:db8::/32')).toEqual({ kind: 'network', value: '2001:db8::/32' });
    for (const bad of ['', '@', 'x@', '@-bad-', '10.0.0.0/33', 'hello', '<a@b.c>', '1.2.3.4/8/9'])
      expect(() => parseEntryValue(bad)).toThrow();
    // A network wider than /8 (IPv4) or /16 (IPv6) is a large part of the Internet, not a list entry.
    expect(parseEntryValue('2001:db8::/16')).toEqual({ kind: 'network', value: '2001:db8::/16' });
    for (const wide of ['0.0.0.0/0', '10.0.0.0/7', '::/0', '2000::/3', '2001:db8::/15', '@org', '@COM'])
      expect(() => parseEntryValue(wide), wide).toThrow(/too wide for a list entry/);
    expect(parseScope(undefined)).toBe('global');
    expect(parseScope('@Example.com')).toBe('example.com');
    expect(() => parseScope('not a domain')).toThrow();
  });
  it('matches a domain and its subdomains; scoped entries only when every recipient is in the scope', () => {
    expect(senderMatches('@example.com', 'a@mail.example.com')).toBe(true);
    expect(senderMatches('@example.com', 'a@badexample.com')).toBe(false);
    expect(senderMatches('a@example.com', 'A@Example.com')).toBe(true);
    expect(senderMatches('@example.com', '')).toBe(false);
    expect(inScope('global', [])).toBe(true);
    expect(inScope('r.example', ['x@r.example', 'y@R.example'])).toBe(true);
    expect(inScope('r.example', ['x@r.example', 'y@other.example'])).toBe(false);
  });
});
