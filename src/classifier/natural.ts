/**
 * The few parts of `natural` we use, loaded by path. Its top-level entry takes over a second, pulls in
 * database clients and reads a `.env` file into process.env; these submodules do none of that
 * (test/classifier/natural-import.test.ts checks it).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface Tokenizer {
  tokenize(text: string): string[];
}
interface Stemmer {
  stem(word: string): string;
}

const { RegexpTokenizer } = require('natural/lib/natural/tokenizers/regexp_tokenizer') as {
  RegexpTokenizer: new (options: { pattern: RegExp }) => Tokenizer;
};
const porterStemmer = require('natural/lib/natural/stemmers/porter_stemmer') as Stemmer;
const { words: stopWordList } = require('natural/lib/natural/util/stopwords') as { words: string[] };

/** Splits on anything that is not a letter, a digit or one of the symbols spam leans on ($, €, %, !). */
export function createWordTokenizer(): Tokenizer {
  return new RegexpTokenizer({ pattern: /[^\p{L}\p{N}$€£%!]+/u });
}

export const stemmer: Stemmer = porterStemmer;
export const stopWords: ReadonlySet<string> = new Set(stopWordList);
