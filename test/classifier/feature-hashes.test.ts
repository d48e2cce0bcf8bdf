/**
 * Features are hashed without building their strings (feature-list.ts) and words are tokenised by a cached
 * scanner (tokenize.ts). Both must give exactly what the string pipeline gave, or the trained default model
 * and every stored model would score differently: checked here against a reference that builds the strings
 * (natural's RegexpTokenizer, lower-casing, stop words, Porter stemmer, a Set of feature strings), on real
 * mail, hostile fixtures and non-ASCII text.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fnv1a, fnv1aFrom } from '../../src/classifier/common.js';
import { loadSpamAssassin } from '../../src/classifier/corpus.js';
import { featureStrings, messageVector } from '../../src/classifier/feature-list.js';
import {
  ALL_FAMILIES,
  displayName,
  extractFeatures,
  type FeatureFamily,
  stripFilterTags,
} from '../../src/classifier/features.js';
import { parseMessage } from '../../src/classifier/mime.js';
import { loadDefaultModel } from '../../src/classifier/model-source.js';
import { DEFAULT_TOKENIZE, WordNormaliser } from '../../src/classifier/tokenize.js';

const require = createRequire(import.meta.url);
const { RegexpTokenizer } = require('natural/lib/natural/tokenizers/regexp_tokenizer') as {
  RegexpTokenizer: new (options: { pattern: RegExp }) => { tokenize(text: string): string[] };
};
const stemmer = require('natural/lib/natural/stemmers/porter_stemmer') as { stem(w: string): string };
const stopWords = new Set((require('natural/lib/natural/util/stopwords') as { words: string[] }).words);

const MAX = 512_000;
const tokenizer = new RegexpTokenizer({ pattern: /[^\p{L}\p{N}$€£%!]+/u });

function referenceWords(text: string, maxWords: number): string[] {
  const out: string[] = [];
  for (const token of tokenizer.tokenize(text)) {
    if (out.length >= maxWords) break;
    if (token.length < 2 || token.length > 40) continue;
    const lower = token.toLowerCase();
    if (stopWords.has(lower)) continue;
    out.push(/^[a-z]+$/.test(lower) ? stemmer.stem(lower) : lower);
  }
  return out;
}

function addReference(into: Set<string>, words: string[], prefix: string, osb: number): void {
  for (let i = 0; i < words.length; i++) {
    const head = prefix + words[i];
    into.add(head);
    for (let d = 1; d <= Math.min(osb, words.length - 1 - i); d++)
      into.add(head + '_'.repeat(d) + words[i + d]);
  }
}

/** The feature strings as the string pipeline built them: word families by the reference, the rest (URL,
 * header and signal features, never hashed in parts) as extracted. */
function reference(raw: Buffer, families: readonly FeatureFamily[] = ALL_FAMILIES): string[] {
  const f = extractFeatures(raw, { maxBytes: MAX, families });
  const texts = parseMessage(raw.subarray(0, MAX)).texts;
  const osb = families.includes('osb') ? DEFAULT_TOKENIZE.osbWindow : 0;
  const out = new Set<string>();
  if (f.subject && families.includes('subject'))
    addReference(out, referenceWords(stripFilterTags(f.subject), 60), 's:', osb);
  if (f.from && families.includes('name'))
    addReference(out, referenceWords(displayName(f.from), 10), 'n:', 0);
  if (families.includes('body')) {
    let budget = DEFAULT_TOKENIZE.maxWords;
    for (const text of texts) {
      if (budget <= 0) break;
      const words = referenceWords(text, budget);
      budget -= words.length;
      addReference(out, words, 'w:', osb);
    }
  }
  for (const t of featureStrings(f)) if (!/^[snw]:/.test(t)) out.add(t);
  return [...out];
}

const model = loadDefaultModel();

function expectSameAsStrings(raw: Buffer, families: readonly FeatureFamily[] = ALL_FAMILIES): void {
  const expected = reference(raw, families);
  const f = extractFeatures(raw, { maxBytes: MAX, families });
  expect(featureStrings(f)).toEqual(expected);
  expect(Array.from(f.hashes)).toEqual(expected.map(fnv1a));
  const auth = ['x:spf-pass', 'x:dkim-pass-aligned'];
  expect(model.score(messageVector(f))).toEqual(model.score(expected));
  expect(model.score(messageVector(f, auth))).toEqual(model.score([...expected, ...auth]));
  expect(model.margin(messageVector(f))).toBe(model.margin(expected));
}

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'), 'utf8');

describe('hashed features equal the hashes of the feature strings', () => {
  it('FNV-1a continues from a prefix state, over UTF-16 code units', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        expect(fnv1aFrom(fnv1a(a), b)).toBe(fnv1a(a + b));
      }),
      { seed: 7, numRuns: 500 },
    );
    // Reference values of 32-bit FNV-1a (UTF-16 units: 'é' is one step of 0xe9, '😀' two surrogates).
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
    expect(fnv1a('é')).toBe(Math.imul(0x811c9dc5 ^ 0xe9, 0x01000193) >>> 0);
  });

  it('the tokenizer yields the words of the split tokenizer, for any text', () => {
    const norm = new WordNormaliser();
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.string({
        unit: fc.constantFrom(
          'a',
          'B',
          '1',
          '$',
          '€',
          '_',
          ' ',
          'İ',
          'ß',
          '\ud835\udc00',
          '\ud800',
          '\udc00',
          '😀',
          'я',
          '-',
          '%',
        ),
        maxLength: 200,
      }),
    );
    fc.assert(
      fc.property(text, fc.integer({ min: 0, max: 30 }), (t, max) => {
        expect(norm.words(t, max).map((w) => w.text)).toEqual(referenceWords(t, max));
      }),
      { seed: 11, numRuns: 1000 },
    );
  });

  it('on a few hundred SpamAssassin messages: same strings, hashes, scores and explanations', () => {
    const all = loadSpamAssassin('all');
    const sample = all.filter((_, i) => i % 15 === 0);
    expect(sample.length).toBeGreaterThan(300);
    for (const m of sample) expectSameAsStrings(m.raw);
  }, 60_000);

  it('on the hostile fixtures', () => {
    const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/hostile');
    const files = readdirSync(dir).filter((f) => f.endsWith('.eml'));
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) expectSameAsStrings(readFileSync(path.join(dir, file)));
  });

  it('on non-ASCII text: dotted capitals, astral letters, emoji, lone surrogates, CJK, other charsets', () => {
    const utf16 = Buffer.from(
      'İSTANBUL straße \ud835\udc07\ud835\udc1e\ud835\udc25\ud835\udc25\ud835\udc28 \ud800x 東京タワー',
      'utf16le',
    );
    const messages = [
      crlf([
        'Subject: =?utf-8?b?' + Buffer.from('İstanbul 😀 ÇOK UCUZ ℌ𝔢𝔩𝔩𝔬 Ⅻ ١٢٣').toString('base64') + '?=',
        'From: "Ünïcödé Ñame 𝐁𝐨𝐬𝐬" <boss@example.com>',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'Grüße aus Köln, ВИАГРА дёшево, ΑΘΗΝΑ, 東京タワー, ǅemal, ﬁnance, KELVIN K, 😀😀 $100 100% free!!! İİİ',
      ]),
      Buffer.concat([
        crlf([
          'Subject: x',
          'Content-Type: text/plain; charset=utf-16le',
          'Content-Transfer-Encoding: base64',
          '',
          utf16.toString('base64'),
        ]),
      ]),
      crlf([
        'Subject: [SPAM] cheap cheap cheap pills pills',
        'Content-Type: text/html; charset=iso-8859-1',
        '',
        '<p>Caf&eacute; caf&eacute; na&iuml;ve <a href="http://xn--80ak6aa92e.com">link</a> a_b a__b</p>',
      ]),
    ];
    for (const raw of messages) expectSameAsStrings(raw);
  });

  it('per feature family (ablation), OSB included or not', () => {
    const sample = loadSpamAssassin('test').slice(0, 40);
    const variants: FeatureFamily[][] = [
      ['body', 'url'],
      ['subject', 'name'],
      ['body', 'osb'],
      ['header', 'signal'],
    ];
    for (const families of variants) for (const m of sample) expectSameAsStrings(m.raw, families);
  });

  it('keeps two different features whose hashes collide, as a set of strings does', () => {
    expect(fnv1a('w:2590024')).toBe(fnv1a('w:1853331'));
    const raw = crlf(['Subject: x', '', '2590024 1853331 2590024']);
    const f = extractFeatures(raw, { maxBytes: MAX });
    const strings = featureStrings(f);
    expect(strings).toContain('w:2590024');
    expect(strings).toContain('w:1853331');
    expect(strings).toEqual(reference(raw));
    expect(Array.from(f.hashes).filter((h) => h === fnv1a('w:2590024'))).toHaveLength(2);
    expect(model.score(messageVector(f))).toEqual(model.score(strings));
  });
});
