/**
 * Two-tier verdict cache. L1: an in-process LRU bounded by entries and bytes. L2: Redis, shared by every
 * instance, when configured. Keys carry the model state (version and learned feedback), so neither an
 * activation nor feedback needs a flush. Redis is
 * optional at run time: every call has a short timeout, a failure is a counted miss, an outage is logged
 * once, and ioredis reconnects by itself.
 */
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import { newRedis } from '../util/redis-client.js';
import { withTimeout as timeout } from '../util/timeout.js';
import type { CachedVerdict, VerdictCache } from './types.js';

const withTimeout = <T>(promise: Promise<T>, ms: number) =>
  timeout(promise, ms, () => new Error(`redis: no answer within ${ms} ms`));

const PREFIX = 'mailsentra:verdict:';

export interface VerdictCacheOptions {
  /** Key prefix for Redis (tests isolate themselves with it). */
  redisPrefix?: string;
}

export function createVerdictCache(
  config: Config,
  deps: { logger: Logger; metrics: Metrics },
  options: VerdictCacheOptions = {},
): VerdictCache & { redis: Redis | null } {
  const { metrics, logger } = deps;
  const ttlMs = config.cache.ttlSeconds * 1000;
  const prefix = options.redisPrefix ?? PREFIX;
  const l1 = new LRUCache<string, CachedVerdict>({
    max: config.cache.memoryEntries,
    maxSize: config.cache.memoryBytes,
    sizeCalculation: (v, k) => k.length + 64 + v.topFeatures.reduce((n, f) => n + f.feature.length + 16, 0),
    ttl: ttlMs,
  });
  const timeout = config.redis.commandTimeoutMs;
  let redis: Redis | null = null;
  let down = false;

  if (config.redis.url) {
    redis = newRedis(config.redis.url, {
      // Fail fast while disconnected instead of queueing commands behind a dead socket.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      lazyConnect: false,
      retryStrategy: (times) => Math.min(times * 100, 2000),
    });
    // Reported once per outage, from the connection as soon as it fails (a wrong REDIS_URL shows at start,
    // not at the first message) or from a command that fails.
    redis.on('error', (err) => markDown(err));
    redis.on('ready', () => {
      if (down) {
        down = false;
        logger.info({ event: 'CACHE_REDIS_RECOVERED' }, 'redis verdict cache reachable again');
      }
    });
  }

  function markDown(err: unknown): void {
    if (down) return;
    down = true;
    logger.warn(
      { event: 'CACHE_REDIS_DOWN', err: (err as Error).message },
      'redis verdict cache unavailable; scoring without it',
    );
  }

  function failed(err: unknown): void {
    metrics.cacheErrors.inc();
    markDown(err);
  }

  const key = (scope: string, hash: string) => `${scope}:${hash}`;

  return {
    redis,
    async get(scope, hash) {
      const k = key(scope, hash);
      const hit = l1.get(k);
      metrics.cacheLookups.inc({ tier: 'memory', result: hit ? 'hit' : 'miss' });
      if (hit) return hit;
      if (!redis) return null;
      try {
        const text = await withTimeout(redis.get(prefix + k), timeout);
        metrics.cacheLookups.inc({ tier: 'redis', result: text ? 'hit' : 'miss' });
        if (!text) return null;
        const verdict = JSON.parse(text) as CachedVerdict;
        l1.set(k, verdict);
        return verdict;
      } catch (err) {
        metrics.cacheLookups.inc({ tier: 'redis', result: 'miss' });
        failed(err);
        return null;
      }
    },
    async set(scope, hash, verdict) {
      const k = key(scope, hash);
      l1.set(k, verdict);
      if (!redis) return;
      try {
        await withTimeout(redis.set(prefix + k, JSON.stringify(verdict), 'PX', ttlMs), timeout);
      } catch (err) {
        failed(err);
      }
    },
    async close() {
      l1.clear();
      if (redis) redis.disconnect();
    },
  };
}
