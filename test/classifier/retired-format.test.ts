/**
 * A registry that still holds a version in the retired MSM1 format (trained before the format was retired). Activating
 * it through the API is refused with 409 MODEL_FORMAT_RETIRED and the model in force stays. When it is
 * already the active version, `scan` and `serve` say so in one line naming the fix and exit 78 — `serve`
 * before it listens, so the upstream MTA keeps the mail queued instead of handing it to a filter that cannot
 * score — and the fix it names, `mailsentra train`, works from that state.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSpamAssassin } from '../../src/classifier/corpus.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { silentLogger } from '../../src/observability/log.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { openStorage } from '../../src/store/index.js';
import { startTestApi } from '../helpers/api.js';
import { runCli, runCliChild, tempConfig } from '../helpers/cli.js';
import { smallCorpus } from '../helpers/corpus.js';
import { freshDatabaseUrl } from '../helpers/db.js';
import { msm1Artefact } from '../helpers/msm1.js';

const ADMIN = 'retired-format-admin-key-0123456789-abcdef';
const VERSION = 'sa-20240101-0ldc0unt';
const baseDatabaseUrl = process.env.DATABASE_URL;

let databaseUrl: string | null = null;
let drop: (() => Promise<void>) | null = null;
let configFile = '';
let config: Config;
let message = '';

/** The registry as the one-shot commands open it (Postgres when the suite has one, else the embedded store). */
async function withRegistry<T>(fn: (storage: Awaited<ReturnType<typeof openStorage>>) => Promise<T>) {
  const storage = await openStorage(config, {
    logger: silentLogger(),
    metrics: createMetrics({ defaultMetrics: false }),
  });
  try {
    return await fn(storage);
  } finally {
    await storage.close();
  }
}

beforeAll(async () => {
  if (baseDatabaseUrl) ({ url: databaseUrl, drop } = await freshDatabaseUrl(baseDatabaseUrl));
  const temp = tempConfig();
  configFile = temp.file;
  config = loadConfig({ file: configFile, env: {}, overrides: { database: { url: databaseUrl } } });
  // The commands run in this process read DATABASE_URL: this file's own database, or none (embedded).
  process.env.DATABASE_URL = databaseUrl ?? '';
  message = path.join(temp.dir, 'ham.eml');
  writeFileSync(message, loadSpamAssassin('test').find((m) => m.label === 'ham')?.raw ?? '');
  await withRegistry((storage) =>
    storage.models.save({
      version: VERSION,
      trainingSet: 'spamassassin-train',
      evaluation: null,
      artefact: msm1Artefact(VERSION),
    }),
  );
});

afterAll(async () => {
  process.env.DATABASE_URL = baseDatabaseUrl;
  await drop?.();
});

describe('a stored MSM1 model version', () => {
  it('is refused at activation through the API with 409 MODEL_FORMAT_RETIRED; the model in force stays', async () => {
    // The API of a whole service on this file's store (it activates the default model: none is active yet).
    const store = databaseUrl ? { databaseUrl } : { pglite: path.resolve(config.dataDir, 'pglite') };
    const api = await startTestApi({ api: { adminApiKey: ADMIN } }, store);
    try {
      const before = (await api.app.inject({ method: 'GET', url: '/ready' })).json().model as string;
      const refused = await api.app.inject({
        method: 'POST',
        url: `/api/v1/models/${VERSION}/activate`,
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      expect(refused.statusCode).toBe(409);
      expect(refused.json().error).toBe('MODEL_FORMAT_RETIRED');
      expect(refused.json().message).toMatch(/MSM1.*mailsentra train.*POST \/api\/v1\/models\/train/);
      expect((await api.app.inject({ method: 'GET', url: '/ready' })).json().model).toBe(before);
      expect((await api.storage.models.getActive())?.version).toBe(before);
    } finally {
      await api.close();
    }
  });

  it('already active: scan and serve refuse in one line naming the fix, exit 78, and serve never listens', async () => {
    // As a release that still read MSM1 left it: the registry's active version is the MSM1 one.
    await withRegistry((storage) => storage.models.activate(VERSION));
    const scan = await runCli(['--config', configFile, 'scan', message]);
    expect(scan.code).toBe(78);
    expect(scan.stdout).toBe('');
    expect(scan.stderr.trim().split('\n')).toHaveLength(1);
    expect(scan.stderr).toMatch(new RegExp(`^mailsentra: model version ${VERSION} .*MSM1.*mailsentra train`));

    const serve = await runCliChild(['--config', configFile, 'serve'], {
      DATABASE_URL: databaseUrl ?? '',
      SMTP_LISTEN: '127.0.0.1:0',
      API_LISTEN: '127.0.0.1:0',
      DNS_SERVERS: '127.0.0.1:9',
      LOG_LEVEL: 'info',
    });
    expect(serve.code).toBe(78);
    expect(serve.stderr.trim().split('\n')).toHaveLength(1);
    expect(serve.stderr).toMatch(
      new RegExp(`^mailsentra: model version ${VERSION} .*MSM1.*mailsentra train`),
    );
    expect(serve.stdout).not.toContain('"LISTENING"');
  }, 120_000);

  it('the fix it names works from that state: mailsentra train activates a version that scans', async () => {
    const corpus = smallCorpus();
    const train = await runCli(['--config', configFile, 'train', '--corpus', corpus]);
    expect(train.code, train.stderr).toBe(0);
    const active = await withRegistry((storage) => storage.models.getActive());
    expect(active?.version).toMatch(/^site-/);
    const scan = await runCli(['--config', configFile, 'scan', '--json', message]);
    expect(scan.code, scan.stderr).toBe(0);
    expect(JSON.parse(scan.stdout).model).toBe(active?.version);
  }, 120_000);
});
