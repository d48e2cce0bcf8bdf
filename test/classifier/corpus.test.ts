/**
 * Training input as admins have it: folders of symbolic links (with a loop), Maildirs and mbox files.
 */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCorpusDir, loadLabelledPath, splitMbox } from '../../src/classifier/corpus.js';
import { CliError } from '../../src/errors.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'mailsentra-corpus-'));
const mail = (n: number) => `From: a${n}@example.org\nSubject: message ${n}\n\nBody ${n}\n`;

function noInput(fn: () => unknown): CliError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).code).toBe('NO_INPUT');
    expect((err as CliError).message).not.toContain('\n');
    return err as CliError;
  }
  throw new Error('expected a NO_INPUT error');
}

describe('corpus input', () => {
  it('follows symbolic links to files and folders, and reads a folder reached twice (a loop) once', () => {
    const store = tmp();
    for (let i = 0; i < 4; i++) writeFileSync(path.join(store, `${i}.eml`), mail(i));
    const site = tmp();
    mkdirSync(path.join(site, 'ham'));
    mkdirSync(path.join(site, 'spam'));
    symlinkSync(path.join(store, '0.eml'), path.join(site, 'ham', 'a.eml'));
    symlinkSync(path.join(store, '1.eml'), path.join(site, 'ham', 'b.eml'));
    symlinkSync(path.join(site, 'ham'), path.join(site, 'ham', 'loop')); // a link loop
    symlinkSync(path.join(store, 'missing.eml'), path.join(site, 'ham', 'dangling.eml'));
    const spamDir = tmp();
    writeFileSync(path.join(spamDir, 'x.eml'), mail(9));
    symlinkSync(spamDir, path.join(site, 'spam', 'linked-folder'));
    const corpus = loadCorpusDir(site);
    expect(corpus.filter((m) => m.label === 'ham').map((m) => m.raw.toString())).toEqual([mail(0), mail(1)]);
    expect(corpus.filter((m) => m.label === 'spam').map((m) => m.raw.toString())).toEqual([mail(9)]);
  });

  it('reads a Maildir from cur/ and new/ only, skipping tmp/, index files and Maildir++ subfolders', () => {
    const md = tmp();
    for (const sub of ['cur', 'new', 'tmp', '.Junk/cur', '.Junk/new'])
      mkdirSync(path.join(md, sub), { recursive: true });
    writeFileSync(path.join(md, 'cur', '1700000000.1.host:2,S'), mail(1));
    writeFileSync(path.join(md, 'new', '1700000001.2.host'), mail(2));
    writeFileSync(path.join(md, 'tmp', '1700000002.3.host'), mail(3));
    writeFileSync(path.join(md, '.Junk', 'cur', '1700000003.4.host:2,S'), mail(4));
    writeFileSync(path.join(md, 'dovecot-uidlist'), '3 V1 N4\n');
    writeFileSync(path.join(md, 'dovecot.index.log'), 'binary');
    const ham = loadLabelledPath(md, 'ham');
    expect(ham.map((m) => m.raw.toString())).toEqual([mail(1), mail(2)]);
    expect(loadLabelledPath(path.join(md, '.Junk'), 'spam').map((m) => m.raw.toString())).toEqual([mail(4)]);
  });

  it('splits an mbox file into its messages and undoes >From quoting', () => {
    const mbox =
      'From alice@example.org Mon Jan  1 00:00:00 2024\nSubject: one\n\nFirst\n>From the start\n\n' +
      'From bob@example.org Mon Jan  1 00:00:01 2024\nSubject: two\n\nSecond\nFrom inside a line is not a separator\n\n' +
      'From carol@example.org Mon Jan  1 00:00:02 2024\nSubject: three\n\nThird\n';
    const messages = splitMbox(Buffer.from(mbox)).map((b) => b.toString());
    expect(messages).toEqual([
      'Subject: one\n\nFirst\nFrom the start\n',
      'Subject: two\n\nSecond\nFrom inside a line is not a separator\n',
      'Subject: three\n\nThird\n',
    ]);
    const dir = tmp();
    writeFileSync(path.join(dir, 'Junk.mbox'), mbox);
    const spam = loadLabelledPath(path.join(dir, 'Junk.mbox'), 'spam');
    expect(spam.map((m) => m.path)).toEqual([1, 2, 3].map((i) => `${path.join(dir, 'Junk.mbox')}#${i}`));
    // DIR/spam.mbox beside DIR/ham/ is a corpus too.
    mkdirSync(path.join(dir, 'ham'));
    writeFileSync(path.join(dir, 'ham', 'h.eml'), mail(5));
    writeFileSync(path.join(dir, 'spam.mbox'), mbox);
    expect(loadCorpusDir(dir).map((m) => m.label)).toEqual(['ham', 'spam', 'spam', 'spam']);
  });

  it('answers a missing or empty corpus with one line naming what is missing', () => {
    expect(noInput(() => loadCorpusDir('/no/such/dir')).message).toContain('/no/such/dir');
    const only = tmp();
    mkdirSync(path.join(only, 'ham'));
    writeFileSync(path.join(only, 'ham', 'a.eml'), mail(1));
    expect(noInput(() => loadCorpusDir(only)).message).toContain(`${only}/spam/`);
    mkdirSync(path.join(only, 'spam'));
    expect(noInput(() => loadCorpusDir(only)).message).toContain('no spam messages');
    expect(noInput(() => loadLabelledPath('/no/such/Maildir', 'ham')).message).toContain('/no/such/Maildir');
  });
});
