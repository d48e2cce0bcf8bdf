import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { contentHash } from '../../src/cache/content-hash.js';
import { createVerdictCache } from '../../src/cache/verdict-cache.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger, silentLogger } from '../../src/observability/log.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { createFeedbackLedger, MAX_UUID } from '../../src/pipeline/feedback-ledger.js';
import { cacheScope } from '../../src/pipeline/scan.js';
import { freePort } from '../helpers/free-port.js';
import { PrivateRedis } from '../helpers/redis.js';

const verdict = { score: 0.97, topFeatures: [{ feature: 'w:viagra', weight: 1.2 }] };
/** The feedback generation of a model that learned one row. */
const learnedOne = (() => {
  const ledger = createFeedbackLedger({ createdAt: new Date(0), id: MAX_UUID });
  ledger.add({ createdAt: new Date(1), id: randomUUID() });
  return ledger.generation();
})();
const counter = async (metrics: Metrics, tier: string, result: string) =>
  (await metrics.cacheLookups.get()).values.find((v) => v.labels.tier === tier && v.labels.result === result)
    ?.value ?? 0;

describe('content hash', () => {
  const msg = (received: string, id: string, to: string, body: string) =>
    Buffer.from(
      `Received: ${received}\r\n\tby mx\r\nMessage-ID: <${id}>\r\nTo: ${to}\r\nSubject: offer\r\nX-Spam-Flag: YES\r\n\r\n${body}`,
    );

  it('ignores what changes per delivery and sees any change of content', () => {
    const a = contentHash(msg('from a', '1@x', 'bob@x', 'buy now'));
    expect(contentHash(msg('from b', '2@x', 'carol@y', 'buy now'))).toBe(a);
    expect(contentHash(msg('from a', '1@x', 'bob@x', 'buy later'))).not.toBe(a);
    expect(contentHash(Buffer.from('Subject: other\r\n\r\nbuy now'))).not.toBe(a);
    expect(contentHash(Buffer.from('Subject: offer\n\nbuy now'))).toBe(
      contentHash(Buffer.from('Subject: offer\r\n\r\nbuy now')),
    );
  });
});

describe('in-process tier', () => {
  it('hits by model state and content hash; a new version or new feedback is a new state', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const cache = createVerdictCache(loadConfig({ file: null, env: {} }), {
      logger: silentLogger(),
      metrics,
    });
    expect(await cache.get('v1', 'h')).toBeNull();
    await cache.set('v1', 'h', verdict);
    expect(await cache.get('v1', 'h')).toEqual(verdict);
    expect(await cache.get('v2', 'h')).toBeNull(); // a new model version needs no flush
    expect(await cache.get(cacheScope('v1', learnedOne), 'h')).toBeNull(); // nor does feedback
    expect(await counter(metrics, 'memory', 'hit')).toBe(1);
    expect(await counter(metrics, 'memory', 'miss')).toBe(3);
    await cache.close();
  });
});

describe.runIf(process.env.REDIS_URL)('Redis tier', () => {
  const prefix = `test:${randomBytes(4).toString('hex')}:`;
  // Generous by default (a loaded CI machine must not turn a shared verdict into a timed-out miss); the
  // outage test uses a short one, as production does.
  const open = (url: string, metrics = createMetrics({ defaultMetrics: false }), commandTimeoutMs = 2000) =>
    createVerdictCache(
      loadConfig({ file: null, env: {}, overrides: { redis: { url, commandTimeoutMs } } }),
      {
        logger: silentLogger(),
        metrics,
      },
      { redisPrefix: prefix },
    );
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of closers) await c();
  });

  it('shares verdicts between instances in the same model state, and only then', async () => {
    const url = process.env.REDIS_URL as string;
    const a = open(url);
    const metricsB = createMetrics({ defaultMetrics: false });
    const b = open(url, metricsB);
    closers.push(
      () => a.close(),
      () => b.close(),
    );
    await new Promise((r) => setTimeout(r, 100));
    await a.set('v1', 'shared', verdict);
    expect(await b.get('v1', 'shared')).toEqual(verdict);
    expect(await counter(metricsB, 'redis', 'hit')).toBe(1);
    // An instance that learned feedback the writer had not must not be served the writer's verdict.
    expect(await b.get(cacheScope('v1', learnedOne), 'shared')).toBeNull();
  });

  it('says at once, and once, that a Redis it cannot reach is down, before any message asks it', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l));
          done();
        },
      }),
    );
    const closed = await freePort(); // nothing listens there
    const cache = createVerdictCache(
      loadConfig({ file: null, env: {}, overrides: { redis: { url: `redis://127.0.0.1:${closed}` } } }),
      { logger, metrics: createMetrics({ defaultMetrics: false }) },
      { redisPrefix: prefix },
    );
    closers.push(() => cache.close());
    const down = () => lines.filter((l) => l.event === 'CACHE_REDIS_DOWN');
    await expect.poll(() => down().length, { timeout: 5000 }).toBe(1);
    // Its reconnection attempts and the lookups that fail meanwhile add no line.
    await new Promise((r) => setTimeout(r, 500));
    expect(await cache.get('v1', 'k')).toBeNull();
    expect(down()).toHaveLength(1);
  });

  it('scores on without Redis when it goes away, counts the failures, and uses it again when it is back', async () => {
    const redis = await PrivateRedis.start();
    closers.push(() => redis.down().catch(() => {}));
    const metrics = createMetrics({ defaultMetrics: false });
    const cache = open(redis.url, metrics, 100);
    closers.push(() => cache.close());
    await new Promise((r) => setTimeout(r, 100));
    await cache.set('v1', 'k', verdict);

    await redis.down();
    const started = Date.now();
    expect(await cache.get('v1', 'other')).toBeNull();
    await cache.set('v1', 'other', verdict); // never throws
    expect(Date.now() - started).toBeLessThan(1000);
    expect((await metrics.cacheErrors.get()).values[0]?.value).toBeGreaterThanOrEqual(1);

    await redis.up();
    const deadline = Date.now() + 5000;
    let back = false;
    while (!back && Date.now() < deadline) {
      await cache.set('v1', 'after', verdict);
      const fresh = open(redis.url);
      await new Promise((r) => setTimeout(r, 100));
      back = (await fresh.get('v1', 'after')) !== null;
      await fresh.close();
    }
    expect(back).toBe(true);
  });
});
