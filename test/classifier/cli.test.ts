import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSpamAssassin } from '../../src/classifier/corpus.js';
import { summarise } from '../../src/classifier/evaluate.js';
import { messageVector } from '../../src/classifier/feature-list.js';
import { extractFeatures } from '../../src/classifier/features.js';
import { loadDefaultModel } from '../../src/classifier/model-source.js';
import type { Evaluation } from '../../src/classifier/types.js';
import type { ScanLine } from '../../src/commands/scan.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/observability/log.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { openStorage } from '../../src/store/index.js';
import { runCli, runCliChild, tempConfig } from '../helpers/cli.js';
import { freshDatabaseUrl } from '../helpers/db.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let inputs: string;
let config: string;

// Commands read DATABASE_URL from the environment: with a real Postgres, each part of this file gets a
// database of its own, so model activations never leak between tests or runs.
const dropDatabases: (() => Promise<void>)[] = [];
async function isolatedDatabase(): Promise<void> {
  if (!process.env.DATABASE_URL) return;
  const fresh = await freshDatabaseUrl(baseDatabaseUrl);
  dropDatabases.push(fresh.drop);
  process.env.DATABASE_URL = fresh.url;
}
const baseDatabaseUrl = process.env.DATABASE_URL;

afterAll(async () => {
  process.env.DATABASE_URL = baseDatabaseUrl;
  for (const drop of dropDatabases) await drop();
});

beforeAll(async () => {
  await isolatedDatabase();
  loadDefaultModel(); // trained at install; trains here once if missing
  ({ file: config } = tempConfig());
  inputs = mkdtempSync(path.join(tmpdir(), 'mailsentra-scan-'));
  const ham = loadSpamAssassin('test').find((m) => m.label === 'ham');
  writeFileSync(path.join(inputs, 'a-ham.eml'), ham?.raw ?? '');
  writeFileSync(path.join(inputs, 'b-empty.eml'), '');
  writeFileSync(
    path.join(inputs, 'c-binary.bin'),
    Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 97) % 256)),
  );
  writeFileSync(
    path.join(inputs, 'd-broken.eml'),
    'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\nunterminated',
  );
  mkdirSync(path.join(inputs, 'nested'));
  const huge = Buffer.alloc(30 * 1024 * 1024, 'buy cheap pills now ');
  writeFileSync(
    path.join(inputs, 'nested', 'e-30mb.eml'),
    Buffer.concat([Buffer.from('Subject: huge\r\n\r\n'), huge]),
  );
});

type Line = ScanLine;

describe('mailsentra scan --json', () => {
  it('prints one line per file, a score or a clear per-file error, and goes on after bad files', async () => {
    const missing = path.join(inputs, 'missing.eml');
    const { code, stdout } = await runCli(['--config', config, 'scan', '--json', inputs, missing]);
    // Every line is printed; a path named on the command line that could not be read fails the command.
    expect(code).toBe(66);
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Line);
    const byName = new Map(lines.map((l) => [path.basename(l.path), l]));
    expect([...byName.keys()].sort()).toEqual(
      ['a-ham.eml', 'b-empty.eml', 'c-binary.bin', 'd-broken.eml', 'e-30mb.eml', 'missing.eml'].sort(),
    );
    const ham = byName.get('a-ham.eml') as Line;
    expect(Object.keys(ham).sort()).toEqual(['action', 'model', 'path', 'score', 'spam']);
    expect(ham.spam).toBe(false);
    expect(ham.action).toBe('pass');
    expect(byName.get('b-empty.eml')?.error).toBe('empty file');
    expect(byName.get('missing.eml')?.error).toBe('no such file');
    for (const name of ['c-binary.bin', 'd-broken.eml', 'e-30mb.eml']) {
      const line = byName.get(name) as Line;
      expect(line.score).toBeGreaterThanOrEqual(0);
      expect(line.score).toBeLessThanOrEqual(1);
    }
    expect(byName.get('e-30mb.eml')?.truncated).toBe(true);
    // A file a directory walk cannot score (the empty one) is its line, not a failure of the command.
    expect((await runCli(['--config', config, 'scan', '--json', inputs])).code).toBe(0);
    // Nothing to scan is said, not silent.
    const empty = mkdtempSync(path.join(tmpdir(), 'mailsentra-scan-empty-'));
    const none = await runCli(['--config', config, 'scan', empty]);
    expect(none.code).toBe(66);
    expect(none.stderr).toBe(`mailsentra: nothing to scan: ${empty} holds no file\n`);
  });

  it('skips a named pipe inside a directory (it would wait for ever), and reads one named on its own', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mailsentra-scan-pipe-'));
    const ham = loadSpamAssassin('test').find((m) => m.label === 'ham')?.raw ?? Buffer.alloc(0);
    writeFileSync(path.join(dir, 'a.eml'), ham);
    expect(spawnSync('mkfifo', [path.join(dir, 'pipe')]).status).toBe(0);
    // A child process: a read that waits on the pipe cannot be interrupted inside this one.
    const walked = await runCliChild(['--config', config, 'scan', '--json', dir], {}, { timeoutMs: 60_000 });
    expect(walked.code).toBe(0);
    const lines = walked.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Line);
    expect(lines.map((l) => [path.basename(l.path), l.error ?? 'scored'])).toEqual([
      ['a.eml', 'scored'],
      ['pipe', 'not a regular file (skipped)'],
    ]);
    // Named on the command line, as `<(…)` gives one: read to its end and scored.
    const writer = spawn('sh', ['-c', `cat '${path.join(dir, 'a.eml')}' > '${path.join(dir, 'pipe')}'`]);
    const named = await runCliChild(
      ['--config', config, 'scan', '--json', path.join(dir, 'pipe')],
      {},
      { timeoutMs: 60_000 },
    );
    writer.kill();
    expect(named.code).toBe(0);
    expect(JSON.parse(named.stdout)).toMatchObject({ score: lines[0]?.score, spam: false });
  }, 120_000);

  it('exits 66 (no input) when a path it was given could not be scored', async () => {
    const { code, stdout } = await runCli([
      '--config',
      config,
      'scan',
      '--json',
      path.join(inputs, 'b-empty.eml'),
    ]);
    expect(code).toBe(66);
    expect(JSON.parse(stdout).error).toBe('empty file');
  });
});

describe('corpus and evaluation', () => {
  it('splits the SpamAssassin corpus as docs/architecture.md fixes it', () => {
    const test = loadSpamAssassin('test');
    expect(test.filter((m) => m.label === 'ham')).toHaveLength(1016);
    expect(test.filter((m) => m.label === 'spam')).toHaveLength(480);
  });

  it('eval prints the figures of the active model on the TEST split', async () => {
    const { code, stdout } = await runCli(['--config', config, 'eval', '--json']);
    expect(code).toBe(0);
    const printed = JSON.parse(stdout) as Evaluation & { model: string };
    const model = loadDefaultModel();
    const expected = summarise(
      loadSpamAssassin('test').map((m) => ({
        score: model.score(messageVector(extractFeatures(m.raw, { maxBytes: 512_000 }))).score,
        label: m.label,
      })),
    );
    expect(printed.model).toBe(model.version);
    expect(printed).toMatchObject({ ...expected });
    // Floors that catch a broken classifier (the targets are reported by `npm run bench`).
    expect(printed.rocAuc).toBeGreaterThan(0.995);
    expect(printed.falsePositiveRate).toBeLessThan(0.01);
  });
});

describe('natural', () => {
  it('is imported by parts: loading the classifier reads no .env file into the environment', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mailsentra-env-'));
    writeFileSync(path.join(dir, '.env'), 'MAILSENTRA_DOTENV_PROBE=leaked\n');
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href,
        '-e',
        `import(${JSON.stringify(path.join(root, 'src/classifier/features.ts'))}).then((m) => { m.extractFeatures(Buffer.from('Subject: hi\\r\\n\\r\\nhello world'), { maxBytes: 1000 }); console.log(process.env.MAILSENTRA_DOTENV_PROBE ?? 'unset'); })`,
      ],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('unset');
  });
});

describe('mailsentra train', () => {
  it('trains on a site corpus plus the site feedback, prints held-out figures, and makes the new version the active one', async () => {
    const corpusDir = mkdtempSync(path.join(tmpdir(), 'mailsentra-corpus-'));
    const sample = loadSpamAssassin('train');
    for (const label of ['spam', 'ham'] as const) {
      mkdirSync(path.join(corpusDir, label, 'deep'), { recursive: true });
      sample
        .filter((m) => m.label === label)
        .slice(0, 60)
        .forEach((m, i) => {
          writeFileSync(path.join(corpusDir, label, 'deep', `${i}.eml`), m.raw);
        });
    }
    const { file } = tempConfig();
    await isolatedDatabase();
    // A report given earlier through the API: the new version must learn it (else activating it forgets it).
    const reported = loadSpamAssassin('test').find((m) => m.label === 'spam') as { raw: Buffer };
    const storageConfig = loadConfig({ file, env: process.env });
    const storage = await openStorage(storageConfig, { logger: silentLogger(), metrics: createMetrics() });
    await storage.feedback.record({
      messageId: null,
      contentHash: 'reported',
      label: 'spam',
      actor: 'admin',
      raw: reported.raw,
    });
    await storage.close();
    const trained = await runCli(['--config', file, 'train', '--corpus', corpusDir]);
    expect(trained.code).toBe(0);
    expect(trained.stdout).toMatch(/on 120 messages and 1 feedback examples/);
    const version = /stored and activated (site-\S+)/.exec(trained.stdout)?.[1];
    expect(version).toBeDefined();
    const reopened = await openStorage(storageConfig, { logger: silentLogger(), metrics: createMetrics() });
    const record = (await reopened.models.list()).find((m) => m.version === version);
    await reopened.close();
    expect(record?.trainingSet).toBe(`corpus:${corpusDir}+feedback:1`);
    expect(trained.stdout).toContain('5-fold held-out');
    const scanned = await runCli(['--config', file, 'scan', '--json', path.join(corpusDir, 'ham')]);
    const models = new Set(
      scanned.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as Line).model),
    );
    expect([...models]).toEqual([version]);
  });
});
