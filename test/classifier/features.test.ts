import { describe, expect, it } from 'vitest';
import { featureStrings } from '../../src/classifier/feature-list.js';
import { extractFeatures } from '../../src/classifier/features.js';
import { htmlToText, parseMessage } from '../../src/classifier/mime.js';

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'), 'latin1');
const features = (raw: Buffer) => extractFeatures(raw, { maxBytes: 512_000 });

describe('MIME decoding for scoring', () => {
  it('decodes RFC 2047 subjects in any charset', () => {
    const f = features(crlf(['Subject: =?iso-8859-1?q?Caf=E9_gratuit?=', 'From: a@b.example', '', 'body']));
    expect(f.subject).toBe('Café gratuit');
    expect(featureStrings(f)).toContain('s:café');
  });

  it('keeps what an encoded word decoded to, in any script, and reads raw 8-bit headers as UTF-8', () => {
    const word = (text: string) => `=?UTF-8?B?${Buffer.from(text).toString('base64')}?=`;
    // Each of these, cut to one byte per char, happens to be valid UTF-8 (mostly ASCII).
    for (const text of ['Привет', '中', '尋找機會']) {
      const f = features(crlf([`Subject: ${word(text)}`, 'From: a@b.example', '', 'body']));
      expect(f.subject).toBe(text);
    }
    const raw = Buffer.concat([
      Buffer.from('Subject: '),
      Buffer.from('Grüße aus Köln'),
      Buffer.from('\r\n\r\nbody'),
    ]);
    expect(features(raw).subject).toBe('Grüße aus Köln');
    // Bytes that are not UTF-8 stay as latin1 read them.
    expect(features(crlf(['Subject: Caf\xe9 gratuit', '', 'body'])).subject).toBe('Café gratuit');
  });

  it('decodes quoted-printable and base64 bodies with their charsets', () => {
    const qp = features(
      crlf([
        'Subject: x',
        'Content-Type: text/plain; charset=iso-8859-1',
        'Content-Transfer-Encoding: quoted-printable',
        '',
        'Gr=FC=DFe aus M=FCnchen, sehr g=\r\nroße Freude',
      ]),
    );
    expect(featureStrings(qp)).toContain('w:münchen');
    expect(featureStrings(qp)).toContain('w:große');
    const b64 = features(
      crlf([
        'Subject: x',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from('Привет мир, viagra', 'utf8').toString('base64'),
      ]),
    );
    expect(featureStrings(b64)).toContain('w:привет');
    expect(featureStrings(b64)).toContain('w:viagra');
  });

  it('turns HTML into text: no tags, no scripts, entities decoded, links kept as hosts', () => {
    const hrefs: string[] = [];
    const text = htmlToText(
      '<p>Cheap&nbsp;pills &amp; more<script>var evil=1</script><a href="http://x.example/p">go</a>',
      hrefs,
    );
    expect(text).toContain('Cheap\u00a0pills & more');
    expect(text).not.toContain('evil');
    expect(hrefs).toEqual(['http://x.example/p']);
    const f = features(
      crlf([
        'Subject: x',
        'Content-Type: text/html',
        '',
        '<a href="https://www.shop.pills.example/buy">Buy now</a>',
      ]),
    );
    expect(featureStrings(f)).toEqual(
      expect.arrayContaining(['u:shop.pills.example', 'u:pills.example', 'h:html-only']),
    );
  });

  it('walks nested multiparts and notes attachments by type', () => {
    const raw = crlf([
      'Subject: nested',
      'Content-Type: multipart/mixed; boundary="outer"',
      '',
      '--outer',
      'Content-Type: multipart/alternative; boundary="inner"',
      '',
      '--inner',
      'Content-Type: text/plain',
      '',
      'plain words here',
      '--inner',
      'Content-Type: text/html',
      '',
      '<b>html words</b>',
      '--inner--',
      '--outer',
      'Content-Type: application/octet-stream; name="invoice.exe"',
      'Content-Disposition: attachment; filename="invoice.exe"',
      'Content-Transfer-Encoding: base64',
      '',
      'TVqQAAMAAAAEAAAA',
      '--outer--',
    ]);
    const parsed = parseMessage(raw);
    expect(parsed.texts.map((t) => t.trim())).toEqual(['plain words here', 'html words']);
    const f = features(raw);
    expect(featureStrings(f)).toEqual(
      expect.arrayContaining(['w:plain', 'w:html', 'h:attach:exe', 'h:ct:multipart/mixed']),
    );
  });

  it('builds orthogonal sparse bigrams with the gap in the feature', () => {
    const f = features(crlf(['Subject: s', '', 'cheap pills online']));
    expect(featureStrings(f)).toEqual(
      expect.arrayContaining(['w:cheap_pill', 'w:cheap__onlin', 'w:pill_onlin']),
    );
  });

  it('records header facts that matter and leaves relay hosts and recipients out', () => {
    const f = features(
      crlf([
        'Received: from relay.corp.example by mx.corp.example',
        'To: victim@corp.example',
        'From: "Best Deals" <deals12345@promo.example>',
        'Subject: FREE MONEY NOW!!',
        '',
        'hello',
      ]),
    );
    expect(featureStrings(f)).toEqual(
      expect.arrayContaining([
        'h:date:missing',
        'h:msgid:missing',
        'h:subject:all-caps',
        'h:subject:exclaim',
        'h:from-domain:promo.example',
        'h:from:digits',
        'n:deal',
      ]),
    );
    expect(featureStrings(f).some((t) => t.includes('relay.corp') || t.includes('victim'))).toBe(false);
  });

  it('survives hostile input with warnings instead of exceptions', () => {
    const unknownCharset = features(
      crlf(['Subject: x', 'Content-Type: text/plain; charset=x-klingon', '', 'qapla']),
    );
    expect(unknownCharset.warnings).toContain('unknown charset x-klingon');
    const noBoundary = features(crlf(['Content-Type: multipart/mixed', '', 'junk']));
    expect(noBoundary.warnings).toContain('multipart without boundary');
    let deep = 'leaf';
    for (let i = 0; i < 60; i++)
      deep = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${deep}\r\n--b${i}--`;
    expect(features(Buffer.from(deep)).warnings).toContain('nesting too deep');
    const binary = Buffer.alloc(4096, 0);
    expect(() => features(binary)).not.toThrow();
  });

  it('scores only the first maxBytes and says so', () => {
    const big = Buffer.concat([crlf(['Subject: big', '', '']), Buffer.alloc(2_000_000, 'a b c ')]);
    const f = extractFeatures(big, { maxBytes: 10_000 });
    expect(f.truncated).toBe(true);
    expect(features(crlf(['Subject: small', '', 'x'])).truncated).toBe(false);
  });
});
