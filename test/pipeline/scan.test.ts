import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createVerdictCache } from '../../src/cache/verdict-cache.js';
import { loadSpamAssassin } from '../../src/classifier/corpus.js';
import { loadDefaultModel } from '../../src/classifier/model-source.js';
import { loadConfig } from '../../src/config/load.js';
import { ScanTimeoutError } from '../../src/errors.js';
import { silentLogger } from '../../src/observability/log.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createActiveModel } from '../../src/pipeline/active-model.js';
import { createFeatureExtractor, createScanner } from '../../src/pipeline/scan.js';

const spam = loadSpamAssassin('test').find((m) => m.label === 'spam')!.raw;
/** The feedback row a lesson is recorded as. */
const row = () => ({ id: randomUUID(), createdAt: new Date() });

function scanner(scannerConfig: { workers: number; workerMinBytes: number }, cache = true) {
  const config = loadConfig({
    file: null,
    env: {},
    overrides: { scanner: scannerConfig, cache: { enabled: cache } },
  });
  const metrics = createMetrics({ defaultMetrics: false });
  const activeModel = createActiveModel(loadDefaultModel(), metrics);
  return {
    scanner: createScanner({
      config,
      activeModel,
      cache: createVerdictCache(config, { logger: silentLogger(), metrics }),
      metrics,
    }),
    activeModel,
  };
}

describe('scanner', () => {
  it('cuts a worker’s parse short at the time limit, then parses the next message in a new worker', async () => {
    const config = loadConfig({
      file: null,
      env: {},
      overrides: { scanner: { workers: 1, workerMinBytes: 0 } },
    });
    const extractor = createFeatureExtractor(config);
    // Half a megabyte of words: its parse takes milliseconds, far past a limit of one.
    const big = Buffer.from(`Subject: long\r\n\r\n${'lorem ipsum dolor sit amet '.repeat(20_000)}`);
    try {
      await expect(extractor.extract(big, 1)).rejects.toBeInstanceOf(ScanTimeoutError);
      const features = await extractor.extract(spam, 10_000);
      expect(features.hashes.length).toBeGreaterThan(10);
    } finally {
      await extractor.close();
    }
  });

  it('scores the same in a worker thread and on the main thread', async () => {
    const inline = scanner({ workers: 0, workerMinBytes: 0 }, false);
    const threaded = scanner({ workers: 1, workerMinBytes: 0 }, false);
    try {
      const a = await inline.scanner.scan(spam);
      const b = await threaded.scanner.scan(spam);
      expect(b.score).toBe(a.score);
      expect(b.topFeatures).toEqual(a.topFeatures);
      expect(a.spam).toBe(true);
    } finally {
      await inline.scanner.close();
      await threaded.scanner.close();
    }
  });

  it('serves a repeated message from the cache; learning moves the score and the cache key with it', async () => {
    const { scanner: s } = scanner({ workers: 0, workerMinBytes: 0 });
    const first = await s.scan(spam);
    const again = await s.scan(spam);
    expect(first.cached).toBe(false);
    expect(again.cached).toBe(true);
    expect(again.score).toBe(first.score);
    await s.learn(spam, 'ham', null, row());
    const after = await s.scan(spam);
    expect(after.cached).toBe(false);
    expect(after.score).toBeLessThan(first.score);
    // Relabelling as spam un-learns the ham label first, then learns spam.
    await s.learn(spam, 'spam', 'ham', row());
    expect((await s.scan(spam)).score).toBeGreaterThan(after.score);
    await s.close();
  });
});
