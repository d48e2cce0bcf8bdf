/**
 * A message's features as the model reads them: the 32-bit FNV-1a hash of each distinct feature string, in
 * the order the strings were first produced, and a recipe per feature from which its string is spelled on
 * demand. Word features (a word, or an OSB pair: head word, gap, second word) are hashed by continuing the
 * FNV-1a state of their parts, never built as strings: a verdict names about ten features, and only those
 * are spelled.
 *
 * Deduplication is by string, exactly: features are kept by hash, and two features with the same hash are
 * compared by their parts, so two different strings that collide in 32 bits both stay (as they would in a
 * set of strings).
 */
import { fnv1a, fnv1aFrom } from './common.js';
import { WORD_PREFIXES, type Word, type WordKind } from './tokenize.js';
import type { FeatureInput, FeatureSpelling, FeatureVector, MessageFeatures } from './types.js';

/** Largest OSB window a recipe can hold (its gap takes 2 bits). */
export const MAX_OSB_WINDOW = 3;
const GAPS = ['', '_', '__', '___'];
const UNDERSCORE = 0x5f;
/** Recipe kind of a feature kept as a whole string (kinds 0–2 are WORD_PREFIXES; see FeatureSpelling). */
const STRING_KIND = 3;

/** The string a recipe spells, given its message's word texts and whole strings. */
function spellRecipe(r: number, word: (index: number) => string, strings: readonly string[]): string {
  const index = r >>> 4;
  const kind = (r >>> 2) & 3;
  if (kind === STRING_KIND) return strings[index] as string;
  const head = WORD_PREFIXES[kind as WordKind] + word(index);
  const gap = r & 3;
  return gap === 0 ? head : head + (GAPS[gap] as string) + word(index + gap);
}

/** The string of feature i. */
export function featureName(spelling: FeatureSpelling, i: number): string {
  return spellRecipe(spelling.recipes[i] as number, (j) => spelling.words[j] as string, spelling.strings);
}

/** Every feature's string, in order (training and tests read features as strings). */
export function featureStrings(features: Pick<MessageFeatures, 'hashes' | 'spelling'>): string[] {
  return Array.from(features.hashes, (_, i) => featureName(features.spelling, i));
}

/** A list of distinct feature strings as the model reads it. */
export function stringVector(tokens: readonly string[]): FeatureVector {
  return { hashes: Uint32Array.from(tokens, fnv1a), name: (i) => tokens[i] as string };
}

/** A model's input as a vector (a list of feature strings is hashed). */
export const vectorOf = (features: FeatureInput): FeatureVector =>
  'hashes' in features ? features : stringVector(features);

/**
 * A message's features followed by `extra` strings (sender-authentication signals, which never occur among
 * a message's own features).
 */
export function messageVector(
  features: Pick<MessageFeatures, 'hashes' | 'spelling'>,
  extra: readonly string[] = [],
): FeatureVector {
  const { hashes, spelling } = features;
  const own = hashes.length;
  const name = (i: number) => (i < own ? featureName(spelling, i) : (extra[i - own] as string));
  if (extra.length === 0) return { hashes, name };
  const all = new Uint32Array(own + extra.length);
  all.set(hashes);
  for (let j = 0; j < extra.length; j++) all[own + j] = fnv1a(extra[j] as string);
  return { hashes: all, name };
}

/**
 * Collects one message's features, deduplicated. Its buffers are reused from message to message (one
 * collector per thread); `finish` copies out what the message keeps.
 */
export class FeatureCollector {
  /** Open addressing over the features collected: entry index + 1, 0 = empty. */
  private slots = new Int32Array(1 << 12);
  private hashes = new Uint32Array(1 << 11);
  private recipes = new Uint32Array(1 << 11);
  private size = 0;
  private words: Word[] = [];
  private strings: string[] = [];

  /** Adds `prefix + word` and the OSB pairs (word, gap, a word up to `osbWindow` later) of `words`. */
  addWords(kind: WordKind, words: readonly Word[], osbWindow: number): void {
    if (osbWindow > MAX_OSB_WINDOW) throw new RangeError(`OSB window ${osbWindow} > ${MAX_OSB_WINDOW}`);
    const base = this.words.length;
    for (const w of words) this.words.push(w);
    const n = words.length;
    for (let i = 0; i < n; i++) {
      const head = (words[i] as Word).hash(kind);
      const recipe = ((base + i) << 4) | (kind << 2);
      this.insert(head, recipe);
      const last = Math.min(osbWindow, n - 1 - i);
      let state = head;
      for (let d = 1; d <= last; d++) {
        state = Math.imul(state ^ UNDERSCORE, 0x01000193); // fnv1aFrom(state, '_'), as int32
        this.insert(fnv1aFrom(state, (words[i + d] as Word).text), recipe | d);
      }
    }
  }

  /** Adds a feature kept as a whole string (URL, header and signal features). */
  add(feature: string): void {
    this.strings.push(feature);
    if (!this.insert(fnv1a(feature), ((this.strings.length - 1) << 4) | (STRING_KIND << 2)))
      this.strings.pop();
  }

  /** The message's features; the collector is empty again. */
  finish(): Pick<MessageFeatures, 'hashes' | 'spelling'> {
    const n = this.size;
    const out = {
      hashes: this.hashes.slice(0, n),
      spelling: {
        words: this.words.map((w) => w.text),
        recipes: this.recipes.slice(0, n),
        strings: this.strings,
      },
    };
    this.words = [];
    this.strings = [];
    this.clear();
    return out;
  }

  /** Empties the collector (a no-op when it is). */
  clear(): void {
    if (this.size > 0) this.slots.fill(0);
    this.size = 0;
    this.words.length = 0;
    this.strings.length = 0;
  }

  /** Adds a feature unless the same string is already in; true when added. */
  private insert(hash: number, recipe: number): boolean {
    if ((this.size + 1) * 2 > this.slots.length) this.grow();
    const slots = this.slots;
    const mask = slots.length - 1;
    let s = (Math.imul(hash, 0x9e3779b1) >>> 0) & mask;
    for (;;) {
      const e = (slots[s] as number) - 1;
      if (e < 0) break;
      if (this.hashes[e] === hash && this.same(this.recipes[e] as number, recipe)) return false;
      s = (s + 1) & mask;
    }
    const e = this.size++;
    slots[s] = e + 1;
    this.hashes[e] = hash;
    this.recipes[e] = recipe;
    return true;
  }

  /**
   * Whether two recipes spell the same string. Word features compare by parts: words are non-empty and
   * never contain '_' (it is not a word character), and the prefixes differ in their first character, so
   * equal strings have equal parts. Anything else (a collision between a word and a whole string) is
   * spelled and compared.
   */
  private same(a: number, b: number): boolean {
    if (a === b) return true;
    const kind = (a >>> 2) & 3;
    if (kind !== ((b >>> 2) & 3)) return this.spell(a) === this.spell(b);
    if (kind === STRING_KIND) return this.strings[a >>> 4] === this.strings[b >>> 4];
    const gap = a & 3;
    if (gap !== (b & 3)) return false;
    const ia = a >>> 4;
    const ib = b >>> 4;
    const words = this.words;
    if ((words[ia] as Word).text !== (words[ib] as Word).text) return false;
    return gap === 0 || (words[ia + gap] as Word).text === (words[ib + gap] as Word).text;
  }

  private spell(recipe: number): string {
    return spellRecipe(recipe, (j) => (this.words[j] as Word).text, this.strings);
  }

  private grow(): void {
    const n = this.size;
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let e = 0; e < n; e++) {
      let s = (Math.imul(this.hashes[e] as number, 0x9e3779b1) >>> 0) & mask;
      while ((slots[s] as number) !== 0) s = (s + 1) & mask;
      slots[s] = e + 1;
    }
    this.slots = slots;
    const hashes = new Uint32Array(slots.length / 2);
    hashes.set(this.hashes.subarray(0, n));
    this.hashes = hashes;
    const recipes = new Uint32Array(slots.length / 2);
    recipes.set(this.recipes.subarray(0, n));
    this.recipes = recipes;
  }
}
