/**
 * Text → normalised words: runs of word characters (natural.ts), lower-cased, stop words dropped, alphabetic
 * words Porter-stemmed. Each distinct stem is one `Word`, which also keeps the FNV-1a hash of each word
 * feature family's prefix followed by it, so a word's own feature costs nothing to hash after its first use.
 */
import { randomBytes } from 'node:crypto';
import { FNV_OFFSET, fnv1aFrom } from './common.js';
import { stemmer, stopWords, WORD_CHARS } from './natural.js';

export interface TokenizeOptions {
  /** Words taken from one text (keeps time proportional to a bounded token count). */
  maxWords: number;
  /** OSB window: pairs (w[i], w[i+d]) for d = 1..window (at most MAX_OSB_WINDOW). */
  osbWindow: number;
}

export const DEFAULT_TOKENIZE: TokenizeOptions = { maxWords: 3000, osbWindow: 2 };

/** Prefixes of the word feature families, by kind: subject, From display name, body. */
export const WORD_PREFIXES = ['s:', 'n:', 'w:'] as const;
export type WordKind = 0 | 1 | 2;
const PREFIX_STATES = WORD_PREFIXES.map((p) => fnv1aFrom(FNV_OFFSET, p));

/** A normalised word (a stem, or a token kept whole). */
export class Word {
  // fnv1a of each prefix + text, by kind (-1: not yet computed).
  private h0 = -1;
  private h1 = -1;
  private h2 = -1;
  constructor(readonly text: string) {}

  /** fnv1a(WORD_PREFIXES[kind] + text), computed once. */
  hash(kind: WordKind): number {
    let h = kind === 0 ? this.h0 : kind === 1 ? this.h1 : this.h2;
    if (h < 0) {
      h = fnv1aFrom(PREFIX_STATES[kind] as number, this.text);
      if (kind === 0) this.h0 = h;
      else if (kind === 1) this.h1 = h;
      else this.h2 = h;
    }
    return h;
  }
}

/** Tokens are cached up to this many (then the cache starts over). */
const CACHE_LIMIT = 200_000;
const WORD_CHAR = new RegExp(`^[${WORD_CHARS}]$`, 'u');
const UNKNOWN = 0;
const IS_WORD = 1;
const NOT_WORD = 2;

/** Whether `text` holds `token` at `start` (the caller checked the length). */
function sameAt(text: string, start: number, token: string): boolean {
  for (let k = 0; k < token.length; k++) if (text.charCodeAt(start + k) !== token.charCodeAt(k)) return false;
  return true;
}

/**
 * A lookup that has probed this many slots gives up on the cache: the token is normalised uncached. FNV-1a
 * is no secret, so a sender can write thousands of words with one hash; without a bound each of them would
 * probe the whole chain the others built, in every message after, and stall the thread that parses mail.
 */
export const MAX_PROBES = 32;

/**
 * The first slot of a hash's probe sequence: the high bits of (hash ^ seed) · φ (Fibonacci hashing). The
 * high bits depend on every bit of the hash, and the seed is the process's own, so words that share the low
 * bits of their hash (cheap to write) do not share a chain; only words with one whole hash do.
 */
function firstSlot(hash: number, seed: number, slots: Int32Array): number {
  const bits = 31 - Math.clz32(slots.length >> 1); // slots hold two cells each; their count is a power of 2
  return Math.imul(hash ^ seed, 0x9e3779b1) >>> (32 - bits);
}

/** Puts entry e with its hash in the first free slot of its probe sequence. */
function place(slots: Int32Array, e: number, hash: number, seed: number): void {
  const mask = (slots.length >> 1) - 1;
  let j = firstSlot(hash, seed, slots);
  while ((slots[2 * j] as number) !== 0) j = (j + 1) & mask;
  slots[2 * j] = e + 1;
  slots[2 * j + 1] = hash;
}

/**
 * Text → words, cached by raw token: mail repeats its vocabulary, and a known token costs one pass over its
 * characters (classifying and hashing them) and one probe of the cache, without building its string; a new
 * one is lower-cased, looked up among the stop words and Porter-stemmed (which dominates its cost). Words
 * are the runs of code points WORD_CHARS names, as a split on its complement yields them.
 */
export class WordNormaliser {
  /** Per BMP code unit: UNKNOWN, IS_WORD or NOT_WORD (filled from WORD_CHAR on first sight; surrogates stay
   * UNKNOWN: a pair is one code point, classified by `width`). */
  private readonly classes = new Uint8Array(0x10000);
  private readonly astral = new Map<number, boolean>();
  // The token cache, open addressing: slot j holds entry + 1 at 2j (0: empty) and the entry's hash at
  // 2j + 1, so a probe reads one cache line. An entry is a token and its word (null: a stop word).
  private slots = new Int32Array(1 << 14);
  private readonly seed = randomBytes(4).readInt32LE(0);
  /** Entry e's token at 2e and its word at 2e + 1 (side by side: one cache line). */
  private entries: (string | Word | null)[] = [];
  private readonly byStem = new Map<string, Word>();

  /** The first `maxWords` words of `text` (tokens of 2–40 UTF-16 units, stop words left out). */
  words(text: string, maxWords: number): Word[] {
    const out: Word[] = [];
    if (maxWords <= 0) return out;
    const classes = this.classes;
    const n = text.length;
    let start = -1;
    let h = 0;
    // One pass: classify each code point, hash the token it extends, look a token up where it ends.
    for (let i = 0; i <= n; ) {
      let word = false;
      let width = 1;
      if (i < n) {
        const k = classes[text.charCodeAt(i)] as number;
        if (k === UNKNOWN) {
          width = this.width(text, i);
          word = width > 0;
          if (!word) width = -width;
        } else word = k === IS_WORD;
      }
      if (word) {
        if (start < 0) {
          start = i;
          h = FNV_OFFSET;
        }
        h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
        if (width === 2) h = Math.imul(h ^ text.charCodeAt(i + 1), 0x01000193);
      } else if (start >= 0) {
        const length = i - start;
        start = -1;
        if (length >= 2 && length <= 40) {
          const found = this.lookup(text, i - length, length, h >>> 0);
          if (found !== null && out.push(found) >= maxWords) break;
        }
      }
      i += width;
    }
    return out;
  }

  /** The width in code units (1, or 2 for a surrogate pair) of the code point at i, negative if it is not a
   * word character; records a BMP code unit's class. */
  private width(text: string, i: number): number {
    const c = text.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) {
      let k = this.classes[c] as number;
      if (k === UNKNOWN) {
        k = WORD_CHAR.test(String.fromCharCode(c)) ? IS_WORD : NOT_WORD;
        this.classes[c] = k;
      }
      return k === IS_WORD ? 1 : -1;
    }
    const d = text.charCodeAt(i + 1);
    if (!(d >= 0xdc00 && d <= 0xdfff)) return -1; // a lone surrogate
    const cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
    let word = this.astral.get(cp);
    if (word === undefined) {
      word = WORD_CHAR.test(String.fromCodePoint(cp));
      this.astral.set(cp, word);
    }
    return word ? 2 : -2;
  }

  /** The word of the token text[start, start + length), normalised and cached on first sight. */
  private lookup(text: string, start: number, length: number, hash: number): Word | null {
    const slots = this.slots;
    const mask = (slots.length >> 1) - 1;
    let j = firstSlot(hash, this.seed, slots);
    let probes = 0;
    for (let e = (slots[2 * j] as number) - 1; e >= 0; e = (slots[2 * j] as number) - 1) {
      if (slots[2 * j + 1] === (hash | 0)) {
        const token = this.entries[2 * e] as string;
        if (token.length === length && sameAt(text, start, token))
          return this.entries[2 * e + 1] as Word | null;
      }
      j = (j + 1) & mask;
      if (++probes === MAX_PROBES) return this.normalise(text.slice(start, start + length));
    }
    const token = text.slice(start, start + length);
    const word = this.normalise(token);
    this.remember(token, hash, word);
    return word;
  }

  /** Tokens in the cache. */
  get cached(): number {
    return this.entries.length / 2;
  }

  private remember(token: string, hash: number, word: Word | null): void {
    if (this.entries.length >= 2 * CACHE_LIMIT) {
      this.slots.fill(0);
      this.entries = [];
      this.byStem.clear();
    }
    const e = this.entries.length / 2;
    // Load ≤ 1/2 (two cells a slot).
    if ((e + 1) * 4 > this.slots.length) this.grow();
    this.entries.push(token, word);
    place(this.slots, e, hash, this.seed);
  }

  private grow(): void {
    const old = this.slots;
    const slots = new Int32Array(old.length * 2);
    for (let j = 0; j < old.length; j += 2)
      if ((old[j] as number) !== 0) place(slots, (old[j] as number) - 1, old[j + 1] as number, this.seed);
    this.slots = slots;
  }

  private normalise(token: string): Word | null {
    const lower = token.toLowerCase();
    if (stopWords.has(lower)) return null;
    // Digits and symbols are kept whole; only alphabetic words are stemmed.
    const stem = /^[a-z]+$/.test(lower) ? stemmer.stem(lower) : lower;
    let word = this.byStem.get(stem);
    if (word === undefined) {
      word = new Word(stem);
      this.byStem.set(stem, word);
    }
    return word;
  }
}
