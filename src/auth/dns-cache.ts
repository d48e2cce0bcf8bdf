/**
 * DNS answers in the verdict cache's two tiers: an in-process LRU, then Redis (shared by every instance)
 * when configured. An entry lives for the answer's own TTL (capped by dns.maxTtlSeconds); negative answers
 * (NXDOMAIN, no data) for their SOA minimum. Failures (SERVFAIL, timeouts) are never cached. Like the
 * verdict cache, a Redis failure is a miss, never an error.
 */
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { withTimeout } from '../util/timeout.js';
import type { DnsRecords } from './dns-client.js';

export interface CachedAnswer {
  /** The records, or the negative answer's code. */
  records: DnsRecords | null;
  negative: 'ENOTFOUND' | 'ENODATA' | null;
  /** Epoch ms. */
  expiresAt: number;
}

export type CacheTier = 'memory' | 'redis';

export interface DnsCache {
  get(key: string): Promise<{ answer: CachedAnswer; tier: CacheTier } | null>;
  /** Whether the in-process tier holds an unexpired answer (synchronous: no Redis). */
  inMemory(key: string): boolean;
  /** Fire and forget: never throws. */
  set(key: string, answer: CachedAnswer): void;
  clear(): void;
}

const PREFIX = 'mailsentra:dns:';

export function createDnsCache(options: {
  memoryEntries: number;
  redis: Redis | null;
  redisTimeoutMs: number;
  /** Key prefix in Redis (tests isolate themselves with it). */
  redisPrefix?: string;
}): DnsCache {
  const l1 = new LRUCache<string, CachedAnswer>({ max: options.memoryEntries });
  const { redis, redisTimeoutMs } = options;
  const prefix = options.redisPrefix ?? PREFIX;
  const noAnswer = () => new Error(`redis: no answer within ${redisTimeoutMs} ms`);

  return {
    async get(key) {
      const now = Date.now();
      const hit = l1.get(key);
      if (hit && hit.expiresAt > now) return { answer: hit, tier: 'memory' };
      if (!redis) return null;
      try {
        const text = await withTimeout(redis.get(prefix + key), redisTimeoutMs, noAnswer);
        if (!text) return null;
        const answer = JSON.parse(text) as CachedAnswer;
        if (answer.expiresAt <= now) return null;
        l1.set(key, answer, { ttl: answer.expiresAt - now });
        return { answer, tier: 'redis' };
      } catch {
        return null;
      }
    },
    inMemory(key) {
      const hit = l1.peek(key);
      return hit !== undefined && hit.expiresAt > Date.now();
    },
    set(key, answer) {
      const ttl = answer.expiresAt - Date.now();
      if (ttl <= 0) return;
      l1.set(key, answer, { ttl });
      if (!redis) return;
      withTimeout(redis.set(prefix + key, JSON.stringify(answer), 'PX', ttl), redisTimeoutMs, noAnswer).catch(
        () => {},
      );
    },
    clear() {
      l1.clear();
    },
  };
}
