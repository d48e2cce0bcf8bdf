import { describe, expect, it } from 'vitest';
import { featureStrings } from '../../src/classifier/feature-list.js';
import { extractFeatures, stripFilterTags } from '../../src/classifier/features.js';
import { parseMessage } from '../../src/classifier/mime.js';
import {
  CREDENTIAL,
  credentialWords,
  impossibleDate,
  MIXED_SCRIPT,
  messageSignals,
  mixedScript,
  registrableDomain,
  SIGNALS,
} from '../../src/classifier/signals.js';

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'), 'utf8');

/** A message with the given extra headers and body (text/plain unless a Content-Type is among them). */
function mail(headers: string[], body: string): Buffer {
  const base = [
    'From: Alice <alice@shop.example>',
    'Subject: hello',
    'Date: Tue, 04 May 2010 10:00:00 +0000',
  ];
  const names = new Set(headers.map((h) => h.split(':')[0]?.toLowerCase()));
  return crlf([...base.filter((h) => !names.has(h.split(':')[0]?.toLowerCase())), ...headers, '', body]);
}

function signals(raw: Buffer): string[] {
  const parsed = parseMessage(raw);
  const from = parsed.headers.find((h) => h.name === 'from')?.value ?? null;
  return messageSignals(parsed, from);
}

const html = (body: string) => mail(['Content-Type: text/html; charset=utf-8'], body);

/** Each signal: messages that must show it, and near misses that must not. */
const cases: Record<keyof typeof SIGNALS, { yes: Buffer[]; no: Buffer[] }> = {
  'link-text-domain': {
    yes: [html('<a href="http://evil.example/login">www.paypal.com</a>')],
    no: [
      html('<a href="https://www.paypal.com/login">www.paypal.com</a>'),
      html('<a href="https://mail.shop.example/x">shop.example</a>'),
      html('<a href="http://evil.example/">click here</a>'),
      // A short company name under a country code: the same registrable domain.
      html('<a href="https://news.zdf.de/x">www.zdf.de</a>'),
      // File names and initials are not domains (no listed public suffix).
      html('<a href="https://files.shop.example/x">report.pdf</a>'),
      html('<a href="https://shop.example/team">Dr.Jones</a>'),
    ],
  },
  'url-ip-literal': {
    yes: [mail([], 'go to http://192.168.12.7/verify now'), html('<a href="http://10.0.0.1:8080/">x</a>')],
    no: [mail([], 'version 1.2.3.4 of the tool, see http://example.org/')],
  },
  'url-punycode': {
    yes: [mail([], 'http://xn--pypal-4ve.com/signin')],
    no: [mail([], 'http://paypal.com/signin and xn-- in prose')],
  },
  'url-shortener': {
    yes: [mail([], 'see https://bit.ly/3abc now')],
    no: [mail([], 'see https://bitly.example/3abc and bit.ly without a link')],
  },
  'credential-words': {
    yes: [
      mail([], 'Please verify your account password within 24 hours.'),
      mail([], 'Your mailbox has been suspended.'),
    ],
    no: [mail([], 'I verified the build. The account of events is in the wiki.')],
  },
  'html-form': {
    yes: [html('<form action="http://x.example/p"><input name="q"></form>')],
    no: [html('<p>fill in the form on our site</p>')],
  },
  'html-password-input': {
    yes: [html('<form><input type="password" name="p"></form>')],
    no: [html('<form><input type="text" name="user"></form>')],
  },
  'html-hidden-text': {
    yes: [
      html('<div style="display:none">pharmacy words</div><p>hi</p>'),
      html('<span style="font-size: 0px">x</span>'),
      html('<div style="color:#fff; display: none"><p>cheap <b>pills</b></p><div>nested</div></div>'),
      html('<p style="opacity:0">&#x441;heap</p>'),
      html("<span style='visibility:hidden'>poison words</span>"),
      // An unquoted attribute value hides as well as a quoted one.
      html('<div style=display:none>pharmacy words</div><p>hi</p>'),
      html('<td style="font-size:0; display:none"><span style="font-size:14px">shown?</span></td>'),
    ],
    no: [
      html('<div style="display:block; font-size: 0.9em">shown</div>'),
      // Word and Outlook: an empty hidden paragraph mark.
      html(
        "<p class=MsoNormal><span style='color:black;display:none;mso-hide:all'><![if !supportEmptyParas]>&nbsp;<![endif]><o:p></o:p></span></p><p>Hello</p>",
      ),
      html('<img src="http://t.example/p.gif" style="display:none" width="1"><p>Hello</p>'),
      html('<div style="display:none" />Hello'),
      html('<table style="DISPLAY: none"><tr><td><hr></td></tr></table><p>Hello</p>'),
      html('<div style="visibility: hidden"><script>var tracker = "user";</script></div><p>Hello</p>'),
      // A cell with no font size around inline images, its text in a child that sets its own.
      html(
        '<td style="font-size:0"><img src="cid:a"><span style="font-size:14px">Offer ends soon</span></td>',
      ),
      html('<p>Write style="display:none" in your CSS</p>'),
    ],
  },
  'image-only': {
    yes: [html('<a href="http://x.example"><img src="http://x.example/a.jpg"></a>')],
    no: [
      html(
        `<img src="cid:logo"><p>${'A real newsletter paragraph with plenty of words in it. '.repeat(8)}</p>`,
      ),
    ],
  },
  'zero-width': {
    yes: [
      mail([], 'V\u200biagra for you'),
      mail([], 'Your P\u2060ay\u200cPal acc\ufeffount'),
      mail([], 'Ваш п\u200bароль истекает'),
      mail([], 'only 9\u200b9 left'),
    ],
    no: [
      mail([], 'plain text with no invisible characters'),
      // Emoji sequences, Persian and Hindi spelling, a preview line padded with &zwnj;, a byte-order mark.
      mail([], 'Happy holidays from all of us 👨\u200d👩\u200d👧\u200d👦'),
      mail([], 'می\u200cخواهم فردا بیایم'),
      mail([], 'क्\u200dष नमस्ते'),
      html(`<div style="display:none">Your October statement${'&zwnj;&nbsp;'.repeat(40)}</div><p>Hello</p>`),
      mail([], '\ufeffHello there'),
    ],
  },
  'mixed-script': {
    yes: [
      mail([], 'Your P\u0430yPal account'),
      mail([], 'Log in to PAYP\u0410L today'),
      mail([], 'Confirm the \u03a1ayment now'),
    ],
    no: [
      mail([], 'Привет, how are you? Καλημέρα.'),
      // U+00B5 MICRO SIGN, a unit prefix in Latin text, is not a Greek letter.
      mail([], 'Take 5 \u00b5g daily; the filter holds particles over 2\u00b5m.'),
      // Nor are the Greek letters units are written with (MICRO and OHM SIGN normalise to them).
      mail([], 'Take 5 \u03bcg daily; order the 10k\u03a9 and 4.7k\u2126 resistors; \u0394T is 5 K.'),
    ],
  },
  'attach-executable': {
    yes: [
      mail(
        ['Content-Type: multipart/mixed; boundary="b"'],
        '--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: application/octet-stream; name="setup.exe"\r\nContent-Disposition: attachment; filename="setup.exe"\r\n\r\nAAAA\r\n--b--',
      ),
    ],
    no: [
      mail(
        ['Content-Type: multipart/mixed; boundary="b"'],
        '--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: application/pdf; name="report.pdf"\r\nContent-Disposition: attachment; filename="report.pdf"\r\n\r\nAAAA\r\n--b--',
      ),
    ],
  },
  'attach-macro': {
    yes: [
      mail(
        ['Content-Type: multipart/mixed; boundary="b"'],
        '--b\r\nContent-Type: text/plain\r\n\r\ninvoice\r\n--b\r\nContent-Type: application/octet-stream; name="invoice.docm"\r\n\r\nAAAA\r\n--b--',
      ),
    ],
    no: [
      mail(
        ['Content-Type: multipart/mixed; boundary="b"'],
        '--b\r\nContent-Type: text/plain\r\n\r\ninvoice\r\n--b\r\nContent-Type: application/octet-stream; name="invoice.docx"\r\n\r\nAAAA\r\n--b--',
      ),
    ],
  },
  'attach-double-ext': {
    yes: [
      mail(
        ['Content-Type: multipart/mixed; boundary="b"'],
        '--b\r\nContent-Type: text/plain\r\n\r\nscan\r\n--b\r\nContent-Type: application/octet-stream; name="scan.pdf.exe"\r\n\r\nAAAA\r\n--b--',
      ),
      // The name only in Content-Disposition, split by RFC 2231 continuations, or with spaces around `=`.
      mail(
        ['Content-Type: multipart/mixed; boundary="b"'],
        '--b\r\nContent-Type: text/plain\r\n\r\nscan\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*0="invoice.pdf"; filename*1=".exe"\r\n\r\nAAAA\r\n--b--',
      ),
      mail(
        ['Content-Type: multipart/mixed; boundary="b"'],
        '--b\r\nContent-Type: text/plain\r\n\r\nscan\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename = "invoice.pdf.exe"\r\n\r\nAAAA\r\n--b--',
      ),
    ],
    no: [
      mail(
        ['Content-Type: multipart/mixed; boundary="b"'],
        '--b\r\nContent-Type: text/plain\r\n\r\nscan\r\n--b\r\nContent-Type: application/octet-stream; name="release.1.2.tar.gz"\r\n\r\nAAAA\r\n--b--',
      ),
    ],
  },
  'from-name-address': {
    yes: [mail(['From: "service@paypal.com" <x123@mailer.example>'], 'hi')],
    no: [
      mail(['From: "alice@shop.example" <alice@shop.example>'], 'hi'),
      mail(['From: Bob Smith <bob@mail.shop.example>'], 'hi'),
    ],
  },
  'reply-to-other-domain': {
    yes: [
      mail(['Reply-To: winner@claims.example'], 'hi'),
      // Two owners under one private public suffix.
      mail(['From: Shop <news@shop.blogspot.com>', 'Reply-To: <claims@prize.blogspot.com>'], 'hi'),
    ],
    no: [
      mail(['Reply-To: Alice <alice@support.shop.example>'], 'hi'),
      mail(['From: BMW <info@bmw.de>', 'Reply-To: <service@kundenservice.bmw.de>'], 'hi'),
    ],
  },
  'date-impossible': {
    yes: [
      mail(['Date: Mon, 04 May 2010 10:00:00 +0000'], 'hi'),
      mail(['Date: Fri, 30 Feb 2024 10:00:00 +0000'], 'hi'),
      mail(['Date: 4 May 2010 25:00:00 +0000'], 'hi'),
    ],
    no: [mail(['Date: Tue, 04 May 2010 10:00:00 +0000'], 'hi'), mail(['Date: 4 May 10 10:00 -0700'], 'hi')],
  },
  'bulk-mailer': {
    yes: [
      mail(['List-Unsubscribe: <mailto:unsub@news.example>'], 'our offers'),
      mail(['Precedence: bulk'], 'our offers'),
    ],
    no: [
      mail(['List-Unsubscribe: <mailto:unsub@lists.example>', 'List-Id: <dev.lists.example>'], 'a patch'),
      mail(['Precedence: list'], 'a patch'),
    ],
  },
};

describe('named signals', () => {
  for (const [name, { yes, no }] of Object.entries(cases)) {
    it(`${name}: fires on the true cases and not on the near misses`, () => {
      for (const raw of yes) expect(signals(raw)).toContain(name);
      for (const raw of no) expect(signals(raw)).not.toContain(name);
    });
  }

  it('every documented signal has a case above, and a plain message shows none', () => {
    expect(Object.keys(cases).sort()).toEqual(Object.keys(SIGNALS).sort());
    expect(signals(mail([], 'Lunch at noon? The report is attached.'))).toEqual([]);
  });

  it('reach the model as x: features, and explain by name', () => {
    const f = extractFeatures(html('<a href="http://192.0.2.1/x">www.mybank.com</a>'), { maxBytes: 512_000 });
    expect(featureStrings(f)).toEqual(expect.arrayContaining(['x:link-text-domain', 'x:url-ip-literal']));
  });

  it('date check: weekday, calendar and range', () => {
    expect(impossibleDate('Sat, 1 Jan 2000 00:00:00 +0000')).toBe(false);
    expect(impossibleDate('Sun, 1 Jan 2000 00:00:00 +0000')).toBe(true);
    expect(impossibleDate('1 Jan 1970 00:00:00 +0000')).toBe(true);
    expect(impossibleDate('not a date')).toBe(true);
  });

  it('registrable domain follows the Public Suffix List', () => {
    expect(registrableDomain('a.b.shop.co.uk')).toBe('shop.co.uk');
    expect(registrableDomain('mail.shop.example')).toBe('shop.example');
    expect(registrableDomain('news.zdf.de')).toBe('zdf.de');
    expect(registrableDomain('dot.ca.gov')).toBe('ca.gov');
    expect(registrableDomain('alice.blogspot.com')).toBe('alice.blogspot.com');
    expect(registrableDomain('192.0.2.7')).toBe('192.0.2.7');
    expect(registrableDomain('localhost')).toBe('localhost');
  });

  it('filter tags are not scored as subject words', () => {
    expect(stripFilterTags('[SPAM]  [spam] Cheap pills')).toBe('Cheap pills');
    expect(stripFilterTags('***SPAM*** offer')).toBe('offer');
    expect(stripFilterTags('Re: the spam filter')).toBe('Re: the spam filter');
    const f = extractFeatures(mail(['Subject: [SPAM] Cheap pills'], 'x'), { maxBytes: 512_000 });
    expect(featureStrings(f)).not.toContain('s:spam');
    expect(featureStrings(f)).toContain('s:cheap');
  });

  it('answer the credential and mixed-script checks as their full patterns do', () => {
    const texts = [
      'Please verify your account password within 24 hours.',
      'Please VERIFY your ACCOUNT now',
      'confirm the log-in details',
      'Your MAILBOX has been locked.',
      'I verified the build. The account of events is in the wiki.',
      'update\nyour password',
      'Your P\u0430yPal account',
      '\u0430Pay',
      'Привет, how are you? Καλημέρα.',
      'PAYP\u0410L',
      'a\u00b5',
      '\u00b5a',
      '5 \u00b5m',
      'plain ASCII with nothing of either',
      '',
    ];
    for (const t of texts) {
      expect(credentialWords(t), t).toBe(CREDENTIAL.test(t));
      expect(mixedScript(t), t).toBe(MIXED_SCRIPT.test(t));
    }
    expect(texts.filter(credentialWords).length).toBe(4);
    expect(texts.filter(mixedScript).length).toBe(3);
  });

  it('count as Greek or Cyrillic what those blocks match case-insensitively, except the micro sign and unit letters', () => {
    const caseInsensitive = /[a-z][\u0370-\u03ff\u0400-\u04ff]|[\u0370-\u03ff\u0400-\u04ff][a-z]/i;
    const differ: number[] = [];
    for (let c = 0; c < 0x10000; c++) {
      for (const t of [`a${String.fromCharCode(c)}`, `${String.fromCharCode(c)}Z`]) {
        if (MIXED_SCRIPT.test(t) !== caseInsensitive.test(t)) differ.push(c);
      }
    }
    // µ (MICRO SIGN), and Δ, Ω, μ, which units are written with.
    expect([...new Set(differ)]).toEqual([0xb5, 0x394, 0x3a9, 0x3bc]);
  });

  it('stay linear on hostile HTML', () => {
    const hostile = html(
      `${'<a href="x" '.repeat(20_000)}>${'<a '.repeat(20_000)}${'<input type=pass '.repeat(20_000)}` +
        `${'<span style="display:none">'.repeat(20_000)}${'style="font-size:0" '.repeat(20_000)}`,
    );
    const started = performance.now();
    signals(hostile);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
