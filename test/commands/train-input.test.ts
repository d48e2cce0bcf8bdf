/**
 * `mailsentra train --ham MBOX --spam MAILDIR`, the formats admins have: the messages are read from both,
 * the held-out trade-off table is printed, and the version records where it was trained from.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSpamAssassin } from '../../src/classifier/corpus.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/observability/log.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { openStorage } from '../../src/store/index.js';
import { runCli, tempConfig } from '../helpers/cli.js';
import { freshDatabaseUrl } from '../helpers/db.js';

const baseDatabaseUrl = process.env.DATABASE_URL;
let drop: (() => Promise<void>) | null = null;
afterAll(async () => {
  process.env.DATABASE_URL = baseDatabaseUrl;
  await drop?.();
});

describe('mailsentra train --ham MBOX --spam MAILDIR', () => {
  it('trains on both, prints the trade-off table, and names its sources', async () => {
    if (baseDatabaseUrl) {
      const fresh = await freshDatabaseUrl(baseDatabaseUrl);
      drop = fresh.drop;
      process.env.DATABASE_URL = fresh.url;
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'mailsentra-input-'));
    const sample = loadSpamAssassin('train');
    const ham = sample.filter((m) => m.label === 'ham').slice(0, 40);
    const spam = sample.filter((m) => m.label === 'spam').slice(0, 40);
    // mboxrd: a From_ line before each message, body lines starting with "From " quoted.
    const mbox = path.join(dir, 'Archive.mbox');
    writeFileSync(
      mbox,
      ham
        .map(
          (m) =>
            `From archive@example.org Mon Jan  1 00:00:00 2024\n${m.raw.toString('latin1').replace(/^(>*From )/gm, '>$1')}\n`,
        )
        .join('\n'),
      'latin1',
    );
    const maildir = path.join(dir, 'Junk');
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(path.join(maildir, sub), { recursive: true });
    spam.forEach((m, i) => {
      writeFileSync(
        path.join(maildir, i % 2 ? 'cur' : 'new', `17000000${i}.M${i}.host${i % 2 ? ':2,S' : ''}`),
        m.raw,
      );
    });
    const { file } = tempConfig();
    const out = await runCli(['--config', file, 'train', '--ham', mbox, '--spam', maildir]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/on 80 messages and 0 feedback examples/);
    expect(out.stdout).toMatch(/held-out trade-off \(40 ham, 40 spam/);
    expect(out.stdout).toMatch(/0\.50 .* <- decision point/);
    const version = /stored and activated (site-\S+)/.exec(out.stdout)?.[1];
    const storage = await openStorage(loadConfig({ file, env: process.env }), {
      logger: silentLogger(),
      metrics: createMetrics({ defaultMetrics: false }),
    });
    const record = (await storage.models.list()).find((m) => m.version === version);
    await storage.close();
    expect(record?.trainingSet).toBe(`ham:${mbox},spam:${maildir}+feedback:0`);
  }, 180_000);
});
