/**
 * Added latency of sender authentication (SPF, DKIM, DMARC, ARC through mailauth and our resolver) per
 * message, against the tests' loopback DNS server:
 *   warm — every answer in the in-process cache (the steady state for mail from known senders);
 *   cold — an empty cache for every message, the DNS server answering after 5 ms (a nearby resolver's miss).
 * The message: DKIM-signed (RSA 2048), SPF and DMARC published; the forwarded case adds an ARC set.
 * Goals (issue 17): warm p50 ≤ 0.5 ms, cold p50 ≤ 15 ms. Prints figures; never fails on them.
 */
import { createDnsCache } from '../src/auth/dns-cache.js';
import { createResolver } from '../src/auth/resolver.js';
import { createVerifier } from '../src/auth/verify.js';
import { createMetrics } from '../src/observability/metrics.js';
import { forwardedByList, LIST_IP, ORIGIN_IP, populate, signedMessage } from '../test/helpers/auth-world.js';
import { startTestDns } from '../test/helpers/dns-server.js';

const dns = await startTestDns();
populate(dns);
const metrics = createMetrics({ defaultMetrics: false });
const options = {
  servers: [dns.server],
  timeoutMs: 1000,
  budgetMs: 4000,
  maxTtlSeconds: 3600,
  negativeTtlSeconds: 60,
};
const verifierWith = (cache = createDnsCache({ memoryEntries: 1000, redis: null, redisTimeoutMs: 50 })) =>
  createVerifier(
    { authservId: 'mx.bench.test', minKeyBits: 1024, budgetMs: options.budgetMs },
    { resolver: createResolver(options, { cache, metrics }), metrics },
  );

const signed = await signedMessage();
const forwarded = await forwardedByList();
const direct = { raw: signed, clientIp: ORIGIN_IP, helo: 'mail.example.org', mailFrom: 'alice@example.org' };
const viaList = {
  raw: forwarded,
  clientIp: LIST_IP,
  helo: 'mail.lists.example.net',
  mailFrom: 'team-bounces@lists.example.net',
};

function percentiles(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => (s[Math.min(s.length - 1, Math.floor(q * s.length))] as number).toFixed(3);
  return `p50 ${at(0.5)} ms  p95 ${at(0.95)} ms  p99 ${at(0.99)} ms  (n=${s.length})`;
}

/** Wall time of each run, and the CPU time of the whole batch per run (a busy machine inflates the wall
 * time, since other processes take the cores; the CPU time is what this process itself spent). */
async function measure(n: number, run: () => Promise<unknown>): Promise<number[] & { cpuMs?: number }> {
  const out: number[] & { cpuMs?: number } = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await run();
    out.push(performance.now() - t);
  }
  const used = process.cpuUsage(cpu);
  out.cpuMs = (used.user + used.system) / 1000 / n;
  return out;
}

function report(label: string, ms: number[] & { cpuMs?: number }): void {
  console.log(`${label.padEnd(30)} ${percentiles(ms)}  cpu ${(ms.cpuMs ?? 0).toFixed(3)} ms/msg`);
}

const warm = verifierWith();
await measure(200, () => warm.verify(direct)); // JIT and cache
await measure(50, () => warm.verify(viaList));
report('warm, signed direct mail', await measure(2000, () => warm.verify(direct)));
report('warm, ARC-sealed forwarded', await measure(1000, () => warm.verify(viaList)));

dns.delayMs = 5;
report('cold (5 ms DNS), direct', await measure(200, () => verifierWith().verify(direct)));
report('cold (5 ms DNS), forwarded', await measure(200, () => verifierWith().verify(viaList)));
console.log(
  `load average while measuring: ${(await import('node:os'))
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
await dns.close();
