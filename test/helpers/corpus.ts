/** A small site corpus on disk, as `mailsentra train --corpus DIR` reads one. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadSpamAssassin } from '../../src/classifier/corpus.js';

/** `DIR/ham` and `DIR/spam` with `perLabel` messages each from the SpamAssassin test split. */
export function smallCorpus(perLabel = 30): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mailsentra-corpus-'));
  const test = loadSpamAssassin('test');
  for (const label of ['ham', 'spam'] as const) {
    mkdirSync(path.join(dir, label));
    for (const m of test.filter((x) => x.label === label).slice(0, perLabel))
      writeFileSync(path.join(dir, label, path.basename(m.path)), m.raw);
  }
  return dir;
}
