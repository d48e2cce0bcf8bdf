/**
 * The hostile-input corpus (test/fixtures/hostile/README.md): the committed small fixtures plus the large
 * ones written by scripts/make-hostile-fixtures.mjs, gathered in one temporary directory so every path (scanner,
 * CLI, SMTP) sees the same files. Built synchronously at import, so `it.each` can name every fixture.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const FIXTURE_DIR = path.join(ROOT, 'test', 'fixtures', 'hostile');
export const GENERATOR = path.join(ROOT, 'scripts', 'make-hostile-fixtures.mjs');

/** The bound: no single message may take longer than this anywhere (the point is: no hang). */
export const PER_MESSAGE_MS = 10_000;
/** Generous bound on peak resident memory while the corpus is processed. */
export const RSS_LIMIT_BYTES = 1.5 * 1024 ** 3;

export interface Fixture {
  name: string;
  /** Absolute path inside the corpus directory. */
  file: string;
  size: number;
  generated: boolean;
}

export interface Corpus {
  /** Every fixture, committed and generated (nothing else). */
  dir: string;
  /** Only the committed (small) fixtures. */
  smallDir: string;
  /** Sorted as `mailsentra scan` walks a directory (readdir order after `.sort()`). */
  fixtures: Fixture[];
  cleanup(): void;
}

/** Committed fixture files (README.md and dot-files are documentation, not mail). */
export function committedNames(): string[] {
  return readdirSync(FIXTURE_DIR)
    .filter((n) => n !== 'README.md' && !n.startsWith('.'))
    .sort();
}

export function buildCorpus(): Corpus {
  const root = mkdtempSync(path.join(tmpdir(), 'mailsentra-hostile-'));
  const dir = path.join(root, 'corpus');
  const smallDir = path.join(root, 'small');
  mkdirSync(smallDir, { recursive: true });
  const manifest = JSON.parse(
    execFileSync(process.execPath, [GENERATOR, dir], { encoding: 'utf8', maxBuffer: 1 << 20 }),
  ) as { file: string }[];
  const generated = new Set(manifest.map((m) => m.file));
  for (const name of committedNames()) {
    if (generated.has(name)) throw new Error(`${name} is both committed and generated`);
    copyFileSync(path.join(FIXTURE_DIR, name), path.join(dir, name));
    copyFileSync(path.join(FIXTURE_DIR, name), path.join(smallDir, name));
  }
  const fixtures = readdirSync(dir)
    .sort()
    .map((name) => {
      const file = path.join(dir, name);
      return { name, file, size: statSync(file).size, generated: generated.has(name) };
    });
  return { dir, smallDir, fixtures, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/**
 * Fixtures that once defeated the time bound through super-linear (backtracking) regular expressions in src/
 * (each ~256 KiB message held a worker for minutes). Fixed; they stay as regressions, and this text is
 * attached to a failure so it says which pattern to look at.
 */
export const BACKTRACKING_REGRESSIONS: Record<string, string> = {
  'from-256k-no-at.eml':
    'src/util/address.ts addressIn() or src/classifier/features.ts displayName(): a regex like /([^\\s<>"\',;:]+@[^\\s<>"\',;:]+)/ is O(n²) on a From without "@"',
  'date-256k-open-parens.eml':
    'src/classifier/features.ts headerFacts() date.replace(/\\([^)]*\\)/g, "") is O(n²) on unclosed "("',
  'subject-256k-digits.eml':
    'src/classifier/features.ts headerFacts() /\\$\\d|\\d+%/ is O(n²) on a long run of digits without "%"',
  'html-256k-unclosed-tags.eml':
    'src/classifier/mime.ts htmlToText() .replace(/<[^>]*>/g, " ") is O(n²) on unclosed "<"',
};

export function hint(name: string): string {
  const bug = BACKTRACKING_REGRESSIONS[name];
  return bug ? `${name} — backtracking regression: ${bug}` : name;
}

/** Peak RSS of this process, sampled (the scan work runs in worker threads, so the main thread is free). */
export class RssSampler {
  peak = process.memoryUsage.rss();
  private timer: NodeJS.Timeout | null = null;

  start(everyMs = 20): this {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
    return this;
  }

  sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }

  stop(): number {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
    return this.peak;
  }
}

export const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
