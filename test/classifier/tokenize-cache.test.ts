/**
 * The tokenizer's word cache against a sender who writes words for it: FNV-1a is public, so thousands of
 * words with one hash cost a moment to find. They must still be read right, and must not build a probe
 * chain every later word walks (which held the thread that parses mail for seconds).
 */
import { describe, expect, it } from 'vitest';
import { FNV_OFFSET } from '../../src/classifier/common.js';
import { MAX_PROBES, WordNormaliser } from '../../src/classifier/tokenize.js';

const P = 0x01000193;
const step = (h: number, c: number) => Math.imul(h ^ c, P);
const fnv = (word: string) => [...word].reduce((h, ch) => step(h, ch.charCodeAt(0)), FNV_OFFSET) >>> 0;

/** `count` three-letter CJK words whose FNV-1a hashes are all equal: the third letter is solved for. */
function collidingWords(count: number): string[] {
  const pInverse = (() => {
    // P is odd, so it has an inverse mod 2^32 (Newton's iteration).
    let x = P;
    for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(P, x));
    return x;
  })();
  const target = Math.imul(step(step(FNV_OFFSET, 0x4e00), 0x4e01) ^ 0x4e02, P);
  const beforeLast = Math.imul(target, pInverse) >>> 0; // = x ^ c3 for every word
  const words: string[] = [];
  for (let c1 = 0x4e00; c1 <= 0x9fff && words.length < count; c1++)
    for (let c2 = 0x4e00; c2 <= 0x9fff && words.length < count; c2++) {
      const c3 = (step(step(FNV_OFFSET, c1), c2) ^ beforeLast) >>> 0;
      if (c3 >= 0x4e00 && c3 <= 0x9fff) words.push(String.fromCharCode(c1, c2, c3));
    }
  return words;
}

describe('the word cache', () => {
  it('reads words that share one hash right, and caches no more of them than a lookup probes', () => {
    const words = collidingWords(200);
    expect(words).toHaveLength(200);
    expect(new Set(words.map(fnv)).size).toBe(1);
    const norm = new WordNormaliser();
    for (let round = 0; round < 3; round++)
      expect(norm.words(words.join(' '), 1000).map((w) => w.text)).toEqual(words);
    // Past MAX_PROBES a lookup gives up on the cache: the chain stays that short.
    expect(norm.cached).toBeLessThanOrEqual(MAX_PROBES);
    // Ordinary words are still cached and read right beside them.
    expect(norm.words('quarterly figures attached', 10).map((w) => w.text)).toEqual([
      'quarterli',
      'figur',
      'attach',
    ]);
    expect(norm.cached).toBeLessThanOrEqual(MAX_PROBES + 3);
  });
});
