/**
 * Text → scoring tokens: words (lower-cased, stemmed, stop words dropped) and orthogonal sparse bigrams
 * (OSB, as Rspamd and OSBF use): each word paired with each of the next few, with the gap in the feature,
 * so "cheap pills online" yields cheap_pill, cheap__onlin, pill_onlin (stemmed). Pure and deterministic.
 */
import { createWordTokenizer, stemmer, stopWords } from './natural.js';

export interface TokenizeOptions {
  /** Words taken from one text (keeps time proportional to a bounded token count). */
  maxWords: number;
  /** OSB window: pairs (w[i], w[i+d]) for d = 1..window. */
  osbWindow: number;
}

export const DEFAULT_TOKENIZE: TokenizeOptions = { maxWords: 3000, osbWindow: 2 };

/** Stems are cached: the Porter stemmer dominates tokenising cost, and mail repeats its vocabulary. */
export class WordNormaliser {
  private readonly tokenizer = createWordTokenizer();
  private readonly cache = new Map<string, string>();

  words(text: string, maxWords: number): string[] {
    const out: string[] = [];
    const raw = this.tokenizer.tokenize(text);
    for (const token of raw) {
      if (out.length >= maxWords) break;
      if (token.length < 2 || token.length > 40) continue;
      const lower = token.toLowerCase();
      if (stopWords.has(lower)) continue;
      out.push(this.stem(lower));
    }
    return out;
  }

  private stem(word: string): string {
    let s = this.cache.get(word);
    if (s === undefined) {
      // Digits and symbols are kept whole; only alphabetic words are stemmed.
      s = /^[a-z]+$/.test(word) ? stemmer.stem(word) : word;
      if (this.cache.size > 200_000) this.cache.clear();
      this.cache.set(word, s);
    }
    return s;
  }
}

const GAPS = ['', '_', '__', '___'];

/** Adds `prefix + word` and OSB pairs of `words` to `into`. */
export function addWordFeatures(
  into: Set<string>,
  words: readonly string[],
  prefix: string,
  osbWindow: number,
): void {
  const gaps =
    GAPS.length > osbWindow ? GAPS : Array.from({ length: osbWindow + 1 }, (_, d) => '_'.repeat(d));
  for (let i = 0; i < words.length; i++) {
    const head = prefix + (words[i] as string);
    into.add(head);
    const last = Math.min(osbWindow, words.length - 1 - i);
    for (let d = 1; d <= last; d++) into.add(head + (gaps[d] as string) + (words[i + d] as string));
  }
}
