/**
 * Storage figures against this machine's real Postgres and Redis (DATABASE_URL / REDIS_URL, defaults to the
 * local ones): verdict-log rows/s batched vs one insert per message, and verdict-cache hit latency p50/p99
 * for the in-process and Redis tiers. Prints figures; never fails on them.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createVerdictCache } from '../src/cache/verdict-cache.js';
import { loadConfig } from '../src/config/load.js';
import { silentLogger } from '../src/observability/log.js';
import { createMetrics } from '../src/observability/metrics.js';
import { openStorage } from '../src/store/index.js';
import { toRow } from '../src/store/messages.js';
import type { MessageLogEntry } from '../src/store/types.js';

const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const dbName = `mailsentra_bench_${Date.now()}`;
const admin = new pg.Client({ connectionString: base });
await admin.connect();
await admin.query(`create database ${dbName}`);
const url = new URL(base);
url.pathname = `/${dbName}`;

const entry = (): MessageLogEntry => ({
  id: randomUUID(),
  receivedAt: new Date(),
  sessionId: 'bench',
  clientIp: '127.0.0.1',
  clientHelo: 'bench',
  mailFrom: 'a@example.org',
  rcptTo: ['b@example.net'],
  messageIdHeader: '<x@example.org>',
  headerFrom: 'a@example.org',
  subject: 'benchmark message',
  size: 5000,
  contentHash: randomUUID(),
  score: 0.1,
  action: 'pass',
  reason: 'score below tag',
  modelVersion: 'bench',
  topFeatures: [{ feature: 'w:benchmark', weight: -0.3 }],
  scanMs: 0.5,
  totalMs: 2,
  status: 'delivered',
  response: '250 ok',
  raw: Buffer.alloc(5000, 'x'),
});

try {
  const metrics = createMetrics({ defaultMetrics: false });
  const config = loadConfig({
    file: null,
    env: {},
    overrides: {
      database: { url: url.toString() },
      logBuffer: { maxRows: 100_000, flushRows: 500, flushIntervalMs: 50 },
    },
  });
  const storage = await openStorage(config, { logger: silentLogger(), metrics });

  const N = 5000;
  let t0 = performance.now();
  for (let i = 0; i < N; i++) storage.messages.record(entry());
  await storage.messages.flush();
  const batched = N / ((performance.now() - t0) / 1000);

  const single = 500;
  t0 = performance.now();
  for (let i = 0; i < single; i++) {
    await storage.db.insertInto('messages').values(toRow(entry())).execute();
  }
  const perRow = single / ((performance.now() - t0) / 1000);
  console.log(
    `verdict log into Postgres (5 KB raw kept): batched ${batched.toFixed(0)} rows/s, one insert per message ${perRow.toFixed(0)} rows/s (${(batched / perRow).toFixed(1)}x)`,
  );
  await storage.close();

  const cacheConfig = loadConfig({
    file: null,
    env: {},
    overrides: { redis: { url: redisUrl, commandTimeoutMs: 50 } },
  });
  const prefix = `bench:${Date.now()}:`;
  const open = () =>
    createVerdictCache(cacheConfig, { logger: silentLogger(), metrics }, { redisPrefix: prefix });
  const writer = open();
  const reader = open(); // same Redis keys, empty L1: each first lookup is a Redis hit
  await new Promise((r) => setTimeout(r, 200));
  const verdict = { score: 0.9, topFeatures: [{ feature: 'w:x', weight: 1 }] };
  const keys = Array.from({ length: 2000 }, () => randomUUID());
  for (const k of keys) await writer.set('v', k, verdict);
  const time = async (fn: (k: string) => Promise<unknown>) => {
    const lat: number[] = [];
    for (const k of keys) {
      const s = performance.now();
      if ((await fn(k)) === null) throw new Error('expected a cache hit');
      lat.push(performance.now() - s);
    }
    lat.sort((a, b) => a - b);
    const p = (q: number) => (lat[Math.floor(q * lat.length)] as number).toFixed(3);
    return `p50 ${p(0.5)} ms, p99 ${p(0.99)} ms`;
  };
  console.log(`verdict cache hit, Redis tier (L2, loopback): ${await time((k) => reader.get('v', k))}`);
  console.log(`verdict cache hit, in-process tier (L1): ${await time((k) => reader.get('v', k))}`);
  await Promise.all([writer.close(), reader.close()]);
} finally {
  await admin.query(`drop database if exists ${dbName} with (force)`);
  await admin.end();
}
