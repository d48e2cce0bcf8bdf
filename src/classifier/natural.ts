/**
 * The few parts of `natural` we use (its Porter stemmer and stop words), loaded by path. Its top-level entry
 * takes over a second, pulls in database clients and reads a `.env` file into process.env; these submodules
 * do none of that (test/classifier/cli.test.ts checks it).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface Stemmer {
  stem(word: string): string;
}

const porterStemmer = require('natural/lib/natural/stemmers/porter_stemmer') as Stemmer;
const { words: stopWordList } = require('natural/lib/natural/util/stopwords') as { words: string[] };

/**
 * The characters words are made of: letters, digits and the symbols spam leans on ($, €, %, !). Anything
 * else separates words (the pattern `natural`'s RegexpTokenizer splits on is its complement).
 */
export const WORD_CHARS = '\\p{L}\\p{N}$€£%!';

export const stemmer: Stemmer = porterStemmer;
export const stopWords: ReadonlySet<string> = new Set(stopWordList);
