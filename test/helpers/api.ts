/**
 * The API built on real parts, for `inject` tests: embedded PGlite storage (or a given one), the real scanner and
 * default model, the real relay delivering to a recording sink. Log lines can be captured.
 */

import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/server.js';
import { createVerdictCache } from '../../src/cache/verdict-cache.js';
import { loadDefaultModel } from '../../src/classifier/model-source.js';
import { type DeepPartial, loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { startListCache } from '../../src/lists/cache.js';
import { createLogger } from '../../src/observability/log.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { createActiveModel } from '../../src/pipeline/active-model.js';
import { createScanner } from '../../src/pipeline/scan.js';
import { createRelay } from '../../src/smtp/relay.js';
import { type OpenedStorage, openStorage } from '../../src/store/index.js';
import { type Sink, startSink } from './sink.js';

export interface TestApi {
  app: FastifyInstance;
  storage: OpenedStorage;
  sink: Sink;
  config: Config;
  metrics: Metrics;
  /** Every log line written, parsed. */
  logLines: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startTestApi(
  overrides: DeepPartial<Config> = {},
  options: { storage?: OpenedStorage; databaseUrl?: string } = {},
): Promise<TestApi> {
  const sink = await startSink();
  const config = loadConfig({
    file: null,
    env: {},
    overrides: {
      ...overrides,
      relay: { to: `127.0.0.1:${sink.port}`, timeoutMs: 5000 },
      database: { url: options.databaseUrl ?? null },
      redis: { url: null },
    },
  });
  const logLines: Record<string, unknown>[] = [];
  const logger = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean))
          logLines.push(JSON.parse(line));
        done();
      },
    }),
  );
  const metrics = createMetrics({ defaultMetrics: false });
  const storage =
    options.storage ?? (await openStorage(config, { logger, metrics }, { pglite: 'memory://' }));
  const activeModel = createActiveModel(loadDefaultModel(), metrics);
  const cache = createVerdictCache(config, { logger, metrics });
  const scanner = createScanner({ config, activeModel, cache, metrics });
  const relay = createRelay(config, metrics);
  const listCache = await startListCache(storage.lists, { intervalMs: 60_000, logger });
  const app = await buildApi({
    config,
    logger,
    metrics,
    storage,
    scanner,
    relay,
    activeModel,
    listCache,
    signingKey: Buffer.alloc(32, 1),
    modelSync: null,
  });
  await app.ready();
  return {
    app,
    storage,
    sink,
    config,
    metrics,
    logLines,
    async close() {
      listCache.stop();
      await app.close();
      if (!options.storage) await storage.close();
      await sink.close();
    },
  };
}
