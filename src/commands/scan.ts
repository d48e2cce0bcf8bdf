/**
 * `mailsentra scan [--json] PATH…`: scores raw RFC822 files with the active model. A directory is read
 * recursively, `-` is stdin. One bad file never stops the run: it gets an `error` in its line. Exit code 1
 * only when nothing could be scored.
 */
import { closeSync, fstatSync, openSync, readdirSync, readSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { messageVector } from '../classifier/feature-list.js';
import { extractFeatures } from '../classifier/features.js';
import type { SpamModel } from '../classifier/types.js';
import type { Command } from '../cli.js';
import type { Config } from '../config/schema.js';
import { actionForScore } from '../pipeline/policy.js';
import { activeModelFor, commandConfig, parseArgs, usageError } from './context.js';
import { createProgress } from './progress.js';

export interface ScanLine {
  path: string;
  score?: number;
  spam?: boolean;
  action?: string;
  model?: string;
  truncated?: boolean;
  error?: string;
}

/** A path to score, or one a directory walk found that is no file (its line says so). */
interface Target {
  path: string;
  notAFile?: true;
  /** Named on the command line (not found by a directory walk): failing to read it fails the command. */
  named?: true;
}

/**
 * Follows symbolic links; a directory reached twice (a link loop) is read once. Inside a directory only
 * regular files are read: a named pipe there would wait for a writer for ever, a device would never end.
 * A path named on the command line is read whatever it is (`<(cat msg)` is a pipe).
 */
function* expand(target: string, seen = new Set<string>(), named = true): Generator<Target> {
  if (target === '-') {
    yield { path: target, named: true };
    return;
  }
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(target);
  } catch {
    yield { path: target, ...(named ? { named: true as const } : {}) }; // reported as an error when read
    return;
  }
  if (!st.isDirectory()) {
    if (named) yield { path: target, named: true };
    else yield st.isFile() ? { path: target } : { path: target, notAFile: true };
    return;
  }
  const real = realpathSync(target);
  if (seen.has(real)) return;
  seen.add(real);
  for (const entry of readdirSync(target).sort()) yield* expand(path.join(target, entry), seen, false);
}

/** Reads at most `limit` bytes (a 30 MB message costs no more than its scanned prefix) and the true size. */
function readPrefix(file: string, limit: number): { bytes: Buffer; size: number } {
  const fd = file === '-' ? 0 : openSync(file, 'r');
  try {
    const st = file === '-' ? null : fstatSync(fd);
    if (!st?.isFile()) return readToEnd(fd, limit);
    const { size } = st;
    const bytes = Buffer.alloc(Math.min(size, limit));
    let off = 0;
    while (off < bytes.length) {
      const n = readSync(fd, bytes, off, bytes.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return { bytes: bytes.subarray(0, off), size };
  } finally {
    if (fd !== 0) closeSync(fd);
  }
}

/** Stdin or a pipe named on the command line (`<(…)`): no size to ask for, so read to its end. */
function readToEnd(fd: number, limit: number): { bytes: Buffer; size: number } {
  const chunks: Buffer[] = [];
  let total = 0;
  const buf = Buffer.alloc(65_536);
  for (;;) {
    let n = 0;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      if ((err as NodeJS.ErrnoException).code === 'EOF') break;
      throw err;
    }
    if (n === 0) break;
    if (total < limit) chunks.push(Buffer.from(buf.subarray(0, Math.min(n, limit - total))));
    total += n;
  }
  return { bytes: Buffer.concat(chunks), size: total };
}

export function scanFile(file: string, model: SpamModel, config: Config): ScanLine {
  const limit = config.scanner.maxScanBytes;
  let read: { bytes: Buffer; size: number };
  try {
    read = readPrefix(file, limit);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { path: file, error: code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? String(err)})` };
  }
  if (read.size === 0) return { path: file, error: 'empty file' };
  // Only the prefix was read; extractFeatures marks truncation from the length it is given.
  const features = extractFeatures(read.bytes, { maxBytes: limit });
  const result = model.score(messageVector(features));
  const line: ScanLine = {
    path: file,
    score: Number(result.score.toFixed(6)),
    spam: result.spam,
    action: actionForScore(result.score, config.policy.thresholds),
    model: model.version,
  };
  if (read.size > limit) line.truncated = true;
  return line;
}

const USAGE = 'usage: mailsentra scan [--json] PATH… (a directory is read recursively; - is stdin)';

export const run: Command = async (args, ctx) => {
  const { bools, rest } = parseArgs(args, { booleans: ['--json'], usage: USAGE });
  if (rest.length === 0) throw usageError('scan needs a file, a directory or - (stdin)', USAGE);
  const config = commandConfig(ctx);
  const model = await activeModelFor(config, ctx);
  const json = bools.has('--json');
  let scored = 0;
  let namedFailed = 0;
  const files = rest.flatMap((target) => [...expand(target)]);
  if (files.length === 0) {
    ctx.stderr.write(`mailsentra: nothing to scan: ${rest.join(', ')} holds no file\n`);
    return 66;
  }
  const progress = createProgress(ctx.stderr);
  progress.step('scanning', files.length);
  for (const [i, { path: file, notAFile, named }] of files.entries()) {
    progress.tick(i);
    const line = notAFile
      ? { path: file, error: 'not a regular file (skipped)' }
      : scanFile(file, model, config);
    if (line.error === undefined) scored++;
    else if (named) namedFailed++;
    if (json) ctx.stdout.write(`${JSON.stringify(line)}\n`);
    else if (line.error !== undefined) ctx.stdout.write(`${file}\terror: ${line.error}\n`);
    else ctx.stdout.write(`${file}\t${line.score?.toFixed(3)}\t${line.action}\n`);
  }
  progress.end();
  // EX_NOINPUT when a path named on the command line could not be scored (a typo must fail a script), as
  // when nothing was; a file a directory walk could not score (empty, not a file) is a line, not a failure.
  return namedFailed > 0 || scored === 0 ? 66 : 0;
};
