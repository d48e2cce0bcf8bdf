/**
 * Sender authentication as the pipeline uses it, built from the config: the resolver (its cache shares the
 * verdict cache's Redis connection), the verifier, and our authserv-id. Null when auth.enabled is off.
 */
import type { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import type { Metrics } from '../observability/metrics.js';
import { createDnsCache } from './dns-cache.js';
import { createResolver } from './resolver.js';
import { createVerifier, type Verifier } from './verify.js';

export interface SenderAuth {
  verifier: Verifier;
  /** Ours in Authentication-Results; incoming ones claiming it are removed. */
  authservId: string;
}

export function createSenderAuth(
  config: Config,
  deps: { redis: Redis | null; metrics: Metrics },
): SenderAuth | null {
  if (!config.auth.enabled) return null;
  const { metrics } = deps;
  const authservId = config.auth.authservId ?? config.smtp.hostname;
  const cache = createDnsCache({
    memoryEntries: config.dns.memoryEntries,
    redis: deps.redis,
    redisTimeoutMs: config.redis.commandTimeoutMs,
    // Answers are shared in Redis only between instances asking the same resolvers: another resolver (a
    // split-horizon or test server) may answer the same name differently.
    redisPrefix: `mailsentra:dns:${config.dns.servers.length > 0 ? config.dns.servers.join(',') : 'system'}:`,
  });
  const resolver = createResolver(config.dns, { cache, metrics });
  const verifier = createVerifier(
    { authservId, minKeyBits: config.auth.minKeyBits, budgetMs: config.dns.budgetMs },
    { resolver, metrics },
  );
  return { verifier, authservId };
}
