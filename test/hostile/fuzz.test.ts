/**
 * Property tests over parse + features + score (issue "Hostile input"): arbitrary bytes, a soup of MIME-ish
 * tokens, and structured MIME with random headers, boundaries, nesting, transfer encodings and charsets, then
 * randomly corrupted and cut. Scoring never throws, returns a finite score in [0, 1], and is deterministic.
 * Fixed seed, so a failure reproduces; fast-check prints the counterexample.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { featureStrings, messageVector } from '../../src/classifier/feature-list.js';
import { extractFeatures } from '../../src/classifier/features.js';
import { parseMessage } from '../../src/classifier/mime.js';
import { loadDefaultModel } from '../../src/classifier/model-source.js';

const model = loadDefaultModel();
const MAX_SCAN_BYTES = 512_000;
const PARAMS = { seed: 42, numRuns: 300 } as const;

function scoreOf(raw: Buffer, maxBytes: number) {
  const parsed = parseMessage(raw.subarray(0, maxBytes));
  const features = extractFeatures(raw, { maxBytes });
  return { parsed, features, result: model.score(messageVector(features)) };
}

/** The property every input must satisfy. */
function scoresSanely(raw: Buffer, maxBytes = MAX_SCAN_BYTES): void {
  const a = scoreOf(raw, maxBytes);
  expect(Number.isFinite(a.result.score)).toBe(true);
  expect(a.result.score).toBeGreaterThanOrEqual(0);
  expect(a.result.score).toBeLessThanOrEqual(1);
  expect(a.result.spam).toBe(a.result.score >= 0.5);
  for (const f of a.result.topFeatures) expect(Number.isFinite(f.weight)).toBe(true);
  expect(a.features.truncated).toBe(raw.length > maxBytes);
  expect(a.features.warnings.every((w) => typeof w === 'string')).toBe(true);
  // Deterministic: the same bytes (a fresh copy) give the same features and the same score.
  const b = scoreOf(Buffer.from(raw), maxBytes);
  expect(featureStrings(b.features)).toEqual(featureStrings(a.features));
  expect(b.result.score).toBe(a.result.score);
  expect(b.parsed).toEqual(a.parsed);
}

// ---------------------------------------------------------------------------------------------------------
// Building blocks

const EOL = fc.constantFrom('\r\n', '\n', '\r');

const TOKENS = [
  '\r\n',
  '\n',
  '\r',
  '\r\n\r\n',
  ':',
  ': ',
  ' ',
  '\t',
  '--',
  '--b',
  '--b--',
  'Content-Type: multipart/mixed; boundary=b',
  'Content-Type: multipart/alternative; boundary="b"',
  'Content-Type: text/html',
  'Content-Type: text/plain; charset=',
  'Content-Type: message/rfc822',
  'Content-Transfer-Encoding: base64',
  'Content-Transfer-Encoding: quoted-printable',
  'Content-Disposition: attachment; filename="x.exe"',
  'utf-8',
  'x-unknown',
  'utf-16',
  '=?utf-8?B?',
  '=?iso-8859-1?Q?',
  '=?x-unknown?q?',
  '?=',
  '=',
  '=3D',
  '=\r\n',
  'QUFB',
  '<',
  '>',
  '<a href="http://',
  '<!--',
  '-->',
  '<script>',
  '</script>',
  '&#x',
  '&amp;',
  ';',
  '"',
  "'",
  '@',
  'From: ',
  'Subject: ',
  'Date: ',
  'Message-ID: ',
  'Received: ',
  '\0',
  '\xff',
  '\xc3',
  'http://',
  'www.example.com',
  '%',
  '$1',
  '!!!',
  '(',
  ')',
  '.',
  'free money now',
];

/** Strings made of MIME-significant pieces and random text: hits parser paths random bytes rarely reach. */
const tokenSoup = fc
  .array(fc.oneof(fc.constantFrom(...TOKENS), fc.string({ unit: 'binary', maxLength: 12 })), {
    maxLength: 120,
  })
  .map((xs) => xs.join(''));

const text = fc.oneof(
  fc.lorem({ maxCount: 30 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  tokenSoup,
);

const BOUNDARY_CHARS = [..."abcXYZ0189'()+_,-./:=? "];
const boundary = fc.oneof(
  fc.constantFrom('b', 'boundary', '=_Part_0_1', '', '-', '--', ' ', 'a b', 'x'.repeat(70), 'b"q', 'b;c'),
  fc.string({ unit: fc.constantFrom(...BOUNDARY_CHARS), maxLength: 72 }),
);

const charset = fc.oneof(
  fc.constantFrom(
    'us-ascii',
    'utf-8',
    'UTF-8',
    'iso-8859-1',
    'windows-1252',
    'koi8-r',
    'shift_jis',
    'gb2312',
    'utf-16',
    'utf-16le',
    'utf-7',
    'x-unknown',
    'constructor',
    '',
    '"utf-8"',
  ),
  fc.string({ maxLength: 20 }),
);

const transferEncoding = fc.oneof(
  fc.constantFrom('7bit', '8bit', 'binary', 'base64', 'BASE64', 'quoted-printable', 'x-uuencode', ''),
  fc.string({ maxLength: 16 }),
);

const HEADER_NAMES = [
  'From',
  'To',
  'Cc',
  'Reply-To',
  'Subject',
  'Date',
  'Message-ID',
  'Received',
  'X-Mailer',
  'User-Agent',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'Content-Disposition',
];
const header = fc.tuple(
  fc.oneof(fc.constantFrom(...HEADER_NAMES), fc.string({ unit: 'binary-ascii', maxLength: 20 })),
  text,
);
const headers = fc.array(header, { maxLength: 6 });

type Part =
  | {
      kind: 'leaf';
      type: string;
      charset: string | null;
      cte: string | null;
      disposition: string | null;
      latin1: boolean;
      headers: [string, string][];
      body: string;
    }
  | {
      kind: 'multi';
      subtype: string;
      boundary: string | null;
      quoted: boolean;
      headers: [string, string][];
      preamble: string;
      parts: Part[];
      close: boolean;
      epilogue: string;
    }
  | { kind: 'rfc822'; headers: [string, string][]; inner: Part };

const { part } = fc.letrec<{ part: Part; leaf: Part; multi: Part; rfc822: Part }>((tie) => ({
  part: fc.oneof({ depthSize: 'small', maxDepth: 8 }, tie('leaf'), tie('multi'), tie('rfc822')),
  leaf: fc.record({
    kind: fc.constant('leaf' as const),
    type: fc.constantFrom(
      'text/plain',
      'text/html',
      'TEXT/HTML',
      'application/octet-stream',
      'image/png',
      '',
    ),
    charset: fc.option<string>(charset),
    cte: fc.option<string>(transferEncoding),
    disposition: fc.option<string>(
      fc.constantFrom(
        'inline',
        'attachment',
        'attachment; filename="a.exe"',
        'attachment; filename*=x',
        ';;',
      ),
    ),
    latin1: fc.boolean(),
    headers,
    body: text,
  }),
  multi: fc.record({
    kind: fc.constant('multi' as const),
    subtype: fc.constantFrom('mixed', 'alternative', 'related', 'report', 'digest', ''),
    boundary: fc.option<string>(boundary, { freq: 8 }),
    quoted: fc.boolean(),
    headers,
    preamble: fc.oneof(fc.constant(''), text),
    parts: fc.array(tie('part'), { maxLength: 4 }),
    close: fc.boolean(),
    epilogue: fc.oneof(fc.constant(''), text),
  }),
  rfc822: fc.record({ kind: fc.constant('rfc822' as const), headers, inner: tie('part') }),
}));

function qpEncode(bytes: Buffer): string {
  let out = '';
  let col = 0;
  for (const b of bytes) {
    const piece =
      b === 0x3d || b < 0x20 || b > 0x7e
        ? `=${b.toString(16).toUpperCase().padStart(2, '0')}`
        : String.fromCharCode(b);
    if (col + piece.length > 75) {
      out += '=\r\n';
      col = 0;
    }
    out += piece;
    col += piece.length;
  }
  return out;
}

function encodeBody(body: string, latin1: boolean, cte: string | null): string {
  const bytes = Buffer.from(body, latin1 ? 'latin1' : 'utf8');
  switch ((cte ?? '').toLowerCase()) {
    case 'base64':
      return (bytes.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
    case 'quoted-printable':
      return qpEncode(bytes);
    default:
      return bytes.toString('latin1');
  }
}

const renderHeaders = (hs: [string, string][], eol: string) =>
  hs.map(([n, v]) => `${n}: ${v}${eol}`).join('');

function render(p: Part, eol: string): string {
  switch (p.kind) {
    case 'leaf': {
      let h = renderHeaders(p.headers, eol);
      h += `Content-Type: ${p.type}${p.charset === null ? '' : `; charset=${p.charset}`}${eol}`;
      if (p.cte !== null) h += `Content-Transfer-Encoding: ${p.cte}${eol}`;
      if (p.disposition !== null) h += `Content-Disposition: ${p.disposition}${eol}`;
      return `${h}${eol}${encodeBody(p.body, p.latin1, p.cte)}`;
    }
    case 'multi': {
      const b = p.boundary;
      const param = b === null ? '' : `; boundary=${p.quoted ? `"${b}"` : b}`;
      let out = `${renderHeaders(p.headers, eol)}Content-Type: multipart/${p.subtype}${param}${eol}${eol}`;
      out += p.preamble;
      for (const child of p.parts) out += `${eol}--${b ?? ''}${eol}${render(child, eol)}`;
      if (p.close) out += `${eol}--${b ?? ''}--${eol}`;
      return out + p.epilogue;
    }
    case 'rfc822':
      return `${renderHeaders(p.headers, eol)}Content-Type: message/rfc822${eol}${eol}${render(p.inner, eol)}`;
  }
}

/** Random damage after rendering: cuts, inserted bytes, deleted ranges, flipped bytes. */
const mutations = fc.array(
  fc.record({
    op: fc.constantFrom('cut', 'insert', 'delete', 'flip'),
    at: fc.nat(),
    len: fc.nat({ max: 64 }),
    data: fc.uint8Array({ maxLength: 8 }),
  }),
  { maxLength: 3 },
);

function mutate(raw: Buffer, ms: { op: string; at: number; len: number; data: Uint8Array }[]): Buffer {
  let b = raw;
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    if (m.op === 'cut') b = b.subarray(0, at);
    else if (m.op === 'insert') b = Buffer.concat([b.subarray(0, at), m.data, b.subarray(at)]);
    else if (m.op === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
    else if (at < b.length) {
      b = Buffer.from(b);
      b[at] = (b[at] as number) ^ 0xff;
    }
  }
  return b;
}

const TOP_HEADERS: [string, string][] = [
  ['From', 'Alice <alice@example.org>'],
  ['To', 'bob@example.net'],
  ['Subject', 'fuzz'],
  ['MIME-Version', '1.0'],
];

// ---------------------------------------------------------------------------------------------------------

describe('fuzz: parse + features + score', () => {
  it('arbitrary bytes never throw and score in [0, 1], deterministically', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => scoresSanely(Buffer.from(bytes))),
      PARAMS,
    );
  });

  it('MIME-token soup (bytes that look like MIME) scores sanely, also cut at a random scan limit', () => {
    fc.assert(
      fc.property(tokenSoup, fc.nat({ max: 2048 }), (soup, limit) => {
        const raw = Buffer.from(soup, 'latin1');
        scoresSanely(raw);
        scoresSanely(raw, limit);
      }),
      PARAMS,
    );
  });

  it('structured MIME (random headers, boundaries, nesting, encodings, charsets), damaged, scores sanely', () => {
    fc.assert(
      fc.property(part, headers, EOL, mutations, fc.nat({ max: 1 << 16 }), (p, hs, eol, ms, limit) => {
        const rendered = renderHeaders([...TOP_HEADERS, ...hs], eol) + render(p, eol);
        const raw = mutate(Buffer.from(rendered, 'latin1'), ms);
        scoresSanely(raw);
        scoresSanely(raw, limit);
      }),
      PARAMS,
    );
  });

  it('deep nesting (0–60 levels of multipart and message/rfc822, shared or distinct boundaries) scores sanely', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('multi', 'rfc822'), { maxLength: 60 }),
        fc.boolean(),
        fc.boolean(),
        EOL,
        text,
        (levels, sameBoundary, close, eol, leaf) => {
          let body = `Content-Type: text/plain${eol}${eol}${leaf}`;
          for (let i = levels.length - 1; i >= 0; i--) {
            const b = sameBoundary ? 'b' : `b${i}`;
            body =
              levels[i] === 'rfc822'
                ? `Subject: level ${i}${eol}Content-Type: message/rfc822${eol}${eol}${body}`
                : `Content-Type: multipart/mixed; boundary="${b}"${eol}${eol}--${b}${eol}${body}${eol}` +
                  (close ? `--${b}--${eol}` : '');
          }
          scoresSanely(Buffer.from(`From: a@example.org${eol}${body}`, 'latin1'));
        },
      ),
      PARAMS,
    );
  });
});
