/**
 * The API of a whole MailSentra built by the composition root, for `inject` tests: no listener is opened, the
 * storage is embedded PGlite (or a given database URL), the relay delivers to a recording sink, and every log
 * line is captured.
 */

import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { type App, createApp } from '../../src/app.js';
import { type DeepPartial, loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/observability/log.js';
import type { Metrics } from '../../src/observability/metrics.js';
import type { OpenedStorage } from '../../src/store/index.js';
import { perFile } from './per-file.js';
import { type Sink, startSink } from './sink.js';

export interface TestApi {
  app: FastifyInstance;
  service: App;
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
  options: {
    databaseUrl?: string;
    /** Embedded database location (default in memory); a directory lets a later API open the same one. */
    pglite?: string;
  } = {},
): Promise<TestApi> {
  const sink = await startSink();
  const ownDataDir = mkdtempSync(path.join(tmpdir(), 'mailsentra-test-'));
  const config = loadConfig({
    file: null,
    env: {},
    overrides: {
      // Never the working directory's ./data: a developer's own service may be using it.
      dataDir: ownDataDir,
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
  const service = await createApp(config, {
    logger,
    roles: { smtp: false, api: true },
    storage: { pglite: options.pglite ?? 'memory://' },
    syncChannels: null,
    digestTimer: false,
  });
  const app = service.api;
  if (!app) throw new Error('the API role built no API');
  await app.ready();
  return {
    app,
    service,
    storage: service.storage,
    sink,
    config,
    metrics: service.metrics,
    logLines,
    async close() {
      await service.stop();
      await sink.close();
      rmSync(ownDataDir, { recursive: true, force: true });
    },
  };
}

/** Signs in to the console with `key` (a form post, as a browser does) and returns the session cookie. */
export async function consoleCookie(app: FastifyInstance, key: string): Promise<string> {
  const r = await app.inject({
    method: 'POST',
    url: '/ui/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `key=${encodeURIComponent(key)}`,
  });
  if (r.statusCode !== 303) throw new Error(`sign-in answered ${r.statusCode}`);
  return String(r.headers['set-cookie']).split(';')[0] as string;
}

/** The request headers that authenticate with an API key. */
export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/**
 * The API for one test file, with `adminKey` as its bootstrap admin key and an analyst key made for it:
 * started before the file's tests, closed after them.
 */
export function useTestApi(adminKey: string): { api: TestApi; analyst: string } {
  return perFile(
    async () => {
      const api = await startTestApi({ api: { adminApiKey: adminKey } });
      return { api, analyst: (await api.storage.keys.create('analyst', 'test')).key };
    },
    ({ api }) => api.close(),
  );
}

/** Quarantines a spam for `recipients` as the pipeline would (one row each): `raw`, or a short one with `subject`. */
export function holdSpam(
  storage: OpenedStorage,
  recipients: string[],
  options: { subject?: string; raw?: Buffer } = {},
) {
  const subject = options.subject ?? `Cheap pills ${randomUUID()}`;
  return storage.quarantine.hold({
    messageId: randomUUID(),
    mailFrom: 'bounce@example.org',
    recipients,
    subject,
    headerFrom: 's@example.org',
    score: 0.99,
    reason: 'score 0.990 >= quarantine 0.950',
    raw:
      options.raw ??
      Buffer.from(`From: s@example.org\r\nTo: r@example.net\r\nSubject: ${subject}\r\n\r\nBuy now\r\n`),
    expiresAt: new Date(Date.now() + 86_400_000),
  });
}
