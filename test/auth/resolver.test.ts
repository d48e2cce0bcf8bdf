import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDnsCache } from '../../src/auth/dns-cache.js';
import type { DnsError } from '../../src/auth/dns-client.js';
import { createResolver } from '../../src/auth/resolver.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { parseServer } from '../../src/util/resolver-address.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';

let dns: TestDns;
const redisUrl = process.env.REDIS_URL;
let redis: Redis | null = null;
const prefix = `mailsentra:test:dns:${randomBytes(4).toString('hex')}:`;

beforeAll(async () => {
  dns = await startTestDns();
  dns.add(
    'example.org',
    { type: 'TXT', data: 'v=spf1 -all', ttl: 120 },
    { type: 'A', data: '192.0.2.1', ttl: 30 },
  );
  dns.add('example.org', { type: 'MX', data: { exchange: 'mx.example.org', preference: 10 } });
  // A 4096-bit-sized key: several character-strings, and (truncate) an answer that needs TCP.
  dns.add('big._domainkey.example.org', { type: 'TXT', data: `v=DKIM1; k=rsa; p=${'A'.repeat(700)}` });
  dns.truncate.add('big._domainkey.example.org');
  if (redisUrl) redis = new Redis(redisUrl);
});
afterAll(async () => {
  await dns.close();
  if (redis) {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
});

function resolverWith(
  options: { redis?: Redis | null; budgetMs?: number; timeoutMs?: number; servers?: string[] } = {},
) {
  const metrics = createMetrics({ defaultMetrics: false });
  const cache = createDnsCache({
    memoryEntries: 100,
    redis: options.redis ?? null,
    redisTimeoutMs: 200,
    redisPrefix: prefix,
  });
  const resolver = createResolver(
    {
      servers: options.servers ?? [dns.server],
      timeoutMs: options.timeoutMs ?? 2000,
      budgetMs: options.budgetMs ?? 1000,
      maxTtlSeconds: 3600,
      negativeTtlSeconds: 60,
    },
    { cache, metrics },
  );
  return { resolver, metrics };
}

const later = () => Date.now() + 5000;

describe('resolver', () => {
  it('parses server specs', () => {
    expect(parseServer('10.0.0.1')).toEqual({ host: '10.0.0.1', port: 53 });
    expect(parseServer('127.0.0.1:5353')).toEqual({ host: '127.0.0.1', port: 5353 });
    expect(parseServer('::1')).toEqual({ host: '::1', port: 53 });
    expect(parseServer('[::1]:5353')).toEqual({ host: '::1', port: 5353 });
  });

  it('answers in node:dns shapes', async () => {
    const { resolver } = resolverWith();
    expect(await resolver.lookup('Example.ORG.', 'TXT', later())).toEqual([['v=spf1 -all']]);
    expect(await resolver.lookup('example.org', 'A', later())).toEqual(['192.0.2.1']);
    expect(await resolver.lookup('example.org', 'MX', later())).toEqual([
      { exchange: 'mx.example.org', priority: 10 },
    ]);
  });

  it('asks again over TCP when the UDP answer is truncated, and joins long TXT strings as mailauth expects', async () => {
    const { resolver } = resolverWith();
    const before = dns.queries.length;
    const records = (await resolver.lookup('big._domainkey.example.org', 'TXT', later())) as string[][];
    expect(records[0]?.join('')).toMatch(/^v=DKIM1; k=rsa; p=A{700}$/);
    expect(records[0]?.length).toBeGreaterThan(1);
    expect(dns.queries.slice(before)).toEqual([
      'TXT big._domainkey.example.org',
      'TXT big._domainkey.example.org',
    ]);
  });

  it('caches negative answers (ENOTFOUND, ENODATA) but not failures', async () => {
    const { resolver } = resolverWith();
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: DnsError) => e.code,
      );
    expect(await code(resolver.lookup('nothing.example.org', 'TXT', later()))).toBe('ENOTFOUND');
    expect(await code(resolver.lookup('example.org', 'AAAA', later()))).toBe('ENODATA');
    const asked = dns.queries.length;
    expect(await code(resolver.lookup('nothing.example.org', 'TXT', later()))).toBe('ENOTFOUND');
    expect(await code(resolver.lookup('example.org', 'AAAA', later()))).toBe('ENODATA');
    expect(dns.queries.length).toBe(asked);
    dns.servfail.add('flaky.example.org');
    expect(await code(resolver.lookup('flaky.example.org', 'TXT', later()))).toBe('ESERVFAIL');
    dns.servfail.delete('flaky.example.org');
    dns.add('flaky.example.org', { type: 'TXT', data: 'recovered' });
    expect(await resolver.lookup('flaky.example.org', 'TXT', later())).toEqual([['recovered']]);
  });

  it('identical questions in flight share one query', async () => {
    const { resolver } = resolverWith();
    dns.add('shared.example.org', { type: 'TXT', data: 'once' });
    dns.delayMs = 30;
    try {
      const before = dns.queries.length;
      const answers = await Promise.all(
        Array.from({ length: 5 }, () => resolver.lookup('shared.example.org', 'TXT', later())),
      );
      expect(answers.every((a) => JSON.stringify(a) === '[["once"]]')).toBe(true);
      expect(dns.queries.length - before).toBe(1);
    } finally {
      dns.delayMs = 0;
    }
  });

  it('a refusing server first in the list is passed over at once, then the next answers', async () => {
    const { resolver } = resolverWith({ servers: ['127.0.0.1:9', dns.server], timeoutMs: 2000 });
    const started = Date.now();
    expect(await resolver.lookup('example.org', 'TXT', later())).toEqual([['v=spf1 -all']]);
    expect(Date.now() - started).toBeLessThan(2000); // refused (ICMP), not timed out
  });

  it('a spent budget fails at once with ETIMEOUT, without asking', async () => {
    const { resolver, metrics } = resolverWith();
    const before = dns.queries.length;
    await expect(resolver.lookup('unasked.example.org', 'TXT', Date.now() - 1)).rejects.toMatchObject({
      code: 'ETIMEOUT',
    });
    expect(dns.queries.length).toBe(before);
    const errors = await metrics.dnsErrors.get();
    expect(errors.values.find((v) => v.labels.reason === 'budget')?.value).toBe(1);
  });

  it.runIf(redisUrl)('shares answers through Redis: a second instance asks the server nothing', async () => {
    dns.add('redis.example.org', { type: 'TXT', data: 'shared', ttl: 60 });
    const first = resolverWith({ redis });
    await first.resolver.lookup('redis.example.org', 'TXT', later());
    await new Promise((r) => setTimeout(r, 50)); // the Redis write is fire and forget
    const before = dns.queries.length;
    const second = resolverWith({ redis });
    expect(await second.resolver.lookup('redis.example.org', 'TXT', later())).toEqual([['shared']]);
    expect(dns.queries.length).toBe(before);
    const lookups = await second.metrics.dnsLookupDuration.get();
    expect(
      lookups.values.find((v) => v.labels.source === 'redis' && v.metricName?.endsWith('_count'))?.value,
    ).toBe(1);
    const ttl = await (redis as Redis).pttl(`${prefix}TXT:redis.example.org`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });
});
