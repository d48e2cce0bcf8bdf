/**
 * The known word a mistyped one most likely meant ("scna" → "scan", "--rol" → "--role"), for a command
 * line that answers a slip with its fix.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

type Distance = (source: string, target: string) => number;

/**
 * The choice within a few edits of `word` (a swap of two letters counts as one), the nearest first; null
 * when none is that close. Allowed edits grow with the word: one up to five letters, two up to eight, and so on.
 */
export function closest(word: string, choices: readonly string[]): string | null {
  // natural's Damerau–Levenshtein, loaded by path and only when a mistake is answered: its entry loads
  // far more (src/classifier/natural.ts), and a command that is typed right never needs it.
  const { DamerauLevenshteinDistance: distance } =
    require('natural/lib/natural/distance/levenshtein_distance') as { DamerauLevenshteinDistance: Distance };
  const bare = word.replace(/^-+/, '');
  const allowed = Math.max(1, Math.floor(bare.length / 3));
  let best: string | null = null;
  let bestDistance = allowed + 1;
  for (const choice of choices) {
    const d = distance(bare, choice.replace(/^-+/, ''));
    if (d < bestDistance) {
      best = choice;
      bestDistance = d;
    }
  }
  return best;
}
