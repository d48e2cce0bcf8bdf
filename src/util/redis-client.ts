/**
 * A new ioredis client. ioredis is loaded on the first call, not when this module is imported: without
 * `redis.url` no client is ever made, and loading the package (a hundred CommonJS files, resolved and
 * compiled one by one) is a tenth of a second of every start on the thread that also opens the store.
 * It is CommonJS, so `require` loads it synchronously and the callers stay synchronous.
 */
import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';

export function newRedis(url: string, options: RedisOptions): Redis {
  const ioredis = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
  return new ioredis.Redis(url, options);
}
