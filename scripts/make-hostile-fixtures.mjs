#!/usr/bin/env node
/**
 * Writes the large (or random) members of the hostile-input corpus, which are not committed:
 * `node scripts/make-hostile-fixtures.mjs OUTDIR` creates OUTDIR and prints a JSON manifest
 * ([{ file, bytes, attacks }]) on stdout. Deterministic: the same bytes on every run (seeded PRNG). The small
 * members are committed in test/fixtures/hostile/ (its README.md lists both halves).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const KiB = 1024;
const MiB = 1024 * KiB;

/** mulberry32: a tiny seeded PRNG, so "random" fixtures are the same bytes everywhere. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  'cheap',
  'pills',
  'meeting',
  'invoice',
  'offer',
  'tomorrow',
  'project',
  'winner',
  'account',
  'report',
  'viagra',
  'lunch',
  'urgent',
  'deadline',
  'free',
  'money',
];

const HAM_WORDS = ['meeting', 'tomorrow', 'project', 'report', 'lunch', 'agenda', 'notes', 'review', 'draft'];

/** `bytes` of space-separated words, no line break. */
function words(bytes, seed, list = WORDS) {
  const rand = prng(seed);
  const out = [];
  let n = 0;
  while (n < bytes) {
    const w = list[Math.floor(rand() * list.length)];
    out.push(w);
    n += w.length + 1;
  }
  return out.join(' ').slice(0, bytes);
}

const head = (subject, extra = []) =>
  [
    'From: "Hostile Corpus" <hostile@example.org>',
    'To: victim@example.net',
    `Subject: ${subject}`,
    'Date: Mon, 1 Jan 2024 00:00:00 +0000',
    'Message-ID: <generated@example.org>',
    'MIME-Version: 1.0',
    ...extra,
  ].join('\r\n');

const latin1 = (s) => Buffer.from(s, 'latin1');

/** Each fixture: file name, what it attacks, and a builder returning its bytes. */
export const GENERATED = [
  {
    file: 'random-binary.bin',
    attacks: '64 KiB of seeded random bytes: not a message at all (bare CR/LF, NULs, 8-bit everywhere)',
    build() {
      const rand = prng(0xb1a5);
      const b = Buffer.alloc(64 * KiB);
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(rand() * 256);
      return b;
    },
  },
  {
    file: 'parts-10000.eml',
    attacks:
      'multipart/mixed with 10 000 parts (part-count cap; the whole message fits in the scanned prefix)',
    build() {
      const parts = [];
      for (let i = 0; i < 10_000; i++) parts.push(`--p\r\nContent-Type: text/plain\r\n\r\n${i}\r\n`);
      return latin1(
        `${head('ten thousand parts', ['Content-Type: multipart/mixed; boundary="p"'])}\r\n\r\n${parts.join('')}--p--\r\n`,
      );
    },
  },
  {
    file: 'header-1mb-folded.eml',
    attacks: 'one Subject header of 1 MiB, folded into ~16 000 continuation lines',
    build() {
      const text = words(MiB, 1);
      const folded = text.match(/.{1,64}(?: |$)/g).join('\r\n ');
      return latin1(
        [
          'From: "Hostile Corpus" <hostile@example.org>',
          'To: victim@example.net',
          'Date: Mon, 1 Jan 2024 00:00:00 +0000',
          `Subject: ${folded}`,
          'Content-Type: text/plain',
          '',
          'body after a 1 MiB header',
          '',
        ].join('\r\n'),
      );
    },
  },
  {
    file: 'headers-1mb-many.eml',
    attacks:
      '1 MiB of headers: ~25 000 distinct header lines (Received, X-*, repeated Subject/From/Content-Type)',
    build() {
      const lines = [];
      let n = 0;
      for (let i = 0; n < MiB; i++) {
        const kind = i % 5;
        const line =
          kind === 0
            ? `Received: from relay${i}.example.org by relay${i + 1}.example.org; Mon, 1 Jan 2024 00:00:00 +0000`
            : kind === 1
              ? `X-Hostile-${i}: value ${i}`
              : kind === 2
                ? `Subject: repeated subject ${i}`
                : kind === 3
                  ? `From: sender${i}@example${i}.org`
                  : `Content-Type: text/plain; charset=x-${i}`;
        lines.push(line);
        n += line.length + 2;
      }
      return latin1(`${lines.join('\r\n')}\r\n\r\nbody after 1 MiB of headers\r\n`);
    },
  },
  {
    file: 'long-line-body-100k.eml',
    attacks: 'a 100 KiB body line (the SMTP limit is 998 bytes per line)',
    build() {
      return latin1(
        `${head('one very long body line', ['Content-Type: text/plain'])}\r\n\r\n${words(100 * KiB, 2, HAM_WORDS)}\r\n`,
      );
    },
  },
  {
    file: 'long-line-header-100k.eml',
    attacks: 'unfolded 100 KiB Subject and X-Long header lines',
    build() {
      return latin1(
        `${head(words(100 * KiB, 3), [`X-Long: ${words(100 * KiB, 4)}`, 'Content-Type: text/plain'])}\r\n\r\nshort body\r\n`,
      );
    },
  },
  {
    file: 'base64-20mb.eml',
    attacks:
      'a text/plain part of 20 MiB of base64 "A" (decodes to 15 MiB of NUL bytes); under the 25 MiB SIZE limit',
    build() {
      const line = `${'A'.repeat(76)}\r\n`;
      const lines = Math.ceil((20 * MiB) / 76);
      const body = Buffer.alloc(lines * line.length);
      body.fill(line, 0, body.length, 'latin1');
      return Buffer.concat([
        latin1(
          `${head('20 MiB of base64', ['Content-Type: multipart/mixed; boundary="b64"'])}\r\n\r\n` +
            '--b64\r\nContent-Type: text/plain\r\n\r\nsee below\r\n' +
            '--b64\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n',
        ),
        body,
        latin1('--b64--\r\n'),
      ]);
    },
  },
  {
    file: 'oversize-30mb.eml',
    attacks:
      '30 MiB message: over the default 25 MiB SIZE limit (SMTP: 552 5.3.4; scanner: truncated prefix)',
    build() {
      const line = 'oversize filler line, nothing to see here\r\n';
      const body = Buffer.alloc(Math.ceil((30 * MiB) / line.length) * line.length);
      body.fill(line, 0, body.length, 'latin1');
      return Buffer.concat([
        latin1(`${head('thirty megabytes', ['Content-Type: text/plain'])}\r\n\r\n`),
        body,
      ]);
    },
  },
  {
    file: 'from-256k-no-at.eml',
    attacks: 'From header: 256 KiB of "a" with no "@" (backtracking in address / display-name regexes)',
    build() {
      return latin1(
        `From: ${'a'.repeat(256 * KiB)}\r\nTo: victim@example.net\r\nSubject: from\r\n\r\nbody\r\n`,
      );
    },
  },
  {
    file: 'date-256k-open-parens.eml',
    attacks: 'Date header: 256 KiB of "(" never closed (backtracking in comment stripping)',
    build() {
      return latin1(
        `From: hostile@example.org\r\nSubject: date\r\nDate: ${'('.repeat(256 * KiB)}\r\n\r\nbody\r\n`,
      );
    },
  },
  {
    file: 'subject-256k-digits.eml',
    attacks: 'Subject header: 256 KiB of digits with no "%" (backtracking in the subject money check)',
    build() {
      return latin1(`From: hostile@example.org\r\nSubject: ${'7'.repeat(256 * KiB)}\r\n\r\nbody\r\n`);
    },
  },
  {
    file: 'html-256k-unclosed-tags.eml',
    attacks: 'text/html body: 256 KiB of "<" never closed (backtracking in tag stripping)',
    build() {
      return latin1(`${head('html', ['Content-Type: text/html'])}\r\n\r\n${'<'.repeat(256 * KiB)}\r\n`);
    },
  },
];

export function generate(outDir) {
  mkdirSync(outDir, { recursive: true });
  return GENERATED.map(({ file, attacks, build }) => {
    const bytes = build();
    writeFileSync(path.join(outDir, file), bytes);
    return { file, bytes: bytes.length, attacks };
  });
}

const invokedAs = process.argv[1] ? path.resolve(process.argv[1]) : '';
if (invokedAs === new URL(import.meta.url).pathname) {
  const outDir = process.argv[2];
  if (!outDir) {
    process.stderr.write('usage: node scripts/make-hostile-fixtures.mjs OUTDIR\n');
    process.exit(2);
  }
  process.stdout.write(`${JSON.stringify(generate(outDir), null, 2)}\n`);
}
