/**
 * `mailsentra scan` and `eval` on Postgres score with the model in force as the service holds it: the active
 * version with the site's feedback taught again on top (as every instance does at its start), not the
 * version as it was stored; and `train` on Postgres tells the running instances of the version it activated.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliChild } from '../helpers/cli.js';
import { smallCorpus } from '../helpers/corpus.js';
import { freshDatabaseUrl } from '../helpers/db.js';
import { ordinaryMail } from '../helpers/mail.js';
import { PrivateRedis } from '../helpers/redis.js';
import { startTestService, type TestService } from '../helpers/service.js';

const ADMIN = 'scan-feedback-admin-key-0123456789';

describe.runIf(process.env.DATABASE_URL)('scan on Postgres, with the feedback the service learned', () => {
  let db: { url: string; drop(): Promise<void> };
  let service: TestService;
  const dir = mkdtempSync(path.join(tmpdir(), 'mailsentra-scan-feedback-'));
  const mail = ordinaryMail();
  const file = path.join(dir, 'lunch.eml');
  // Sender authentication off, so the service's scan (no client) and the command's (no envelope) read the
  // same features.
  const configFile = path.join(dir, 'mailsentra.yaml');

  beforeAll(async () => {
    db = await freshDatabaseUrl();
    writeFileSync(file, mail);
    writeFileSync(configFile, 'auth:\n  enabled: false\n');
    service = await startTestService({
      config: { database: { url: db.url }, api: { adminApiKey: ADMIN }, auth: { enabled: false } },
    });
  }, 120_000);
  afterAll(async () => {
    await service?.stop();
    await db?.drop();
  });

  const scanned = async () => {
    const env = { DATABASE_URL: db.url, REDIS_URL: '', DATA_DIR: dir, MAILSENTRA_CONFIG: configFile };
    const out = await runCliChild(['scan', '--json', file], env, { timeoutMs: 120_000 });
    expect(out.code, out.stderr).toBe(0);
    return (JSON.parse(out.stdout) as { score: number }).score;
  };

  it('a report made through the API counts in the command’s score', async () => {
    const before = (await service.app.scanner.scan(mail)).score;
    expect(await scanned()).toBeCloseTo(before, 5);
    const res = await fetch(`http://127.0.0.1:${service.apiPort}/api/v1/feedback`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ raw: mail.toString(), label: 'spam' }),
    });
    expect(res.status).toBe(200);
    const taught = (await service.app.scanner.scan(mail)).score;
    expect(taught).toBeGreaterThan(before + 0.01);
    expect(await scanned()).toBeCloseTo(taught, 5);
  }, 200_000);
});

describe.runIf(process.env.DATABASE_URL)('train on Postgres beside running instances', () => {
  let db: { url: string; drop(): Promise<void> };
  let redis: PrivateRedis;
  let service: TestService;

  beforeAll(async () => {
    db = await freshDatabaseUrl();
    redis = await PrivateRedis.start();
    // No periodic check within the test: only the announcement can switch the instance.
    service = await startTestService({
      config: { database: { url: db.url, syncIntervalSeconds: 3600 }, redis: { url: redis.url } },
    });
    await service.app.modelSync.ready;
  }, 120_000);
  afterAll(async () => {
    await service?.stop();
    await redis?.down();
    await db?.drop();
  });

  it('announces the version it activated, so a running instance loads it at once', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mailsentra-train-announce-'));
    const env = { DATABASE_URL: db.url, REDIS_URL: redis.url, DATA_DIR: dir };
    const out = await runCliChild(['train', '--corpus', smallCorpus()], env, { timeoutMs: 180_000 });
    expect(out.code, out.stderr).toBe(0);
    const version = /stored and activated (\S+)/.exec(out.stdout)?.[1];
    expect(version).toBeDefined();
    await expect.poll(() => service.app.activeModel.current().version, { timeout: 20_000 }).toBe(version);
  }, 200_000);
});
