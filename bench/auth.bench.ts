/**
 * Added latency of sender authentication per message: the pipeline's step (authenticateMessage: SPF, DKIM,
 * DMARC, ARC through mailauth and our resolver, forged Authentication-Results removed, the record and its
 * signals) against the tests' loopback DNS server:
 *   warm — every answer in the in-process cache (the steady state for mail from known senders); with
 *          REDIS_URL set, once more with the Redis tier behind it (an L1 hit must not ask Redis);
 *   cold — an empty cache for every message, the DNS server answering after 5 ms (a nearby resolver's miss).
 * The message: DKIM-signed (RSA 2048) from an address its SPF permits, DMARC p=reject published; the
 * forwarded case adds an ARC set. Goals (issue 17): warm p50 ≤ 0.5 ms, cold p50 ≤ 15 ms. Prints figures;
 * never fails on them.
 */
import { Redis } from 'ioredis';
import { createDnsCache } from '../src/auth/dns-cache.js';
import { createResolver } from '../src/auth/resolver.js';
import { createVerifier } from '../src/auth/verify.js';
import { createMetrics } from '../src/observability/metrics.js';
import { authenticateMessage } from '../src/pipeline/authenticate.js';
import {
  forwardedByList,
  LIST_IP,
  ORIGIN_IP,
  plainMessage,
  populate,
  signedMessage,
} from '../test/helpers/auth-world.js';
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
const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL) : null;
const AUTHSERV = 'mx.bench.test';
/** The pipeline's auth step over a fresh resolver cache (Redis behind it when given). */
function stepWith(tier: Redis | null = null) {
  const cache = createDnsCache({
    memoryEntries: 1000,
    redis: tier,
    redisTimeoutMs: 50,
    redisPrefix: `mailsentra:bench:dns:${process.pid}:`,
  });
  const verifier = createVerifier(
    { authservId: AUTHSERV, minKeyBits: 1024, budgetMs: options.budgetMs },
    { resolver: createResolver(options, { cache, metrics }), metrics },
  );
  const auth = { verifier, authservId: AUTHSERV };
  return {
    run: (m: { raw: Buffer; clientIp: string; clientHelo: string; mailFrom: string }) =>
      authenticateMessage(auth, m, m.raw),
  };
}

const signed = await signedMessage();
const forwarded = await forwardedByList();
const direct = {
  raw: signed,
  clientIp: ORIGIN_IP,
  clientHelo: 'mail.authorg.example',
  mailFrom: 'alice@authorg.example',
};
// Most mail: no DKIM or ARC field, SPF and DMARC from the envelope and the From field.
const unsigned = { ...direct, raw: plainMessage('Alice <alice@authorg.example>') };
const viaList = {
  raw: forwarded,
  clientIp: LIST_IP,
  clientHelo: 'mail.authlist.example',
  mailFrom: 'team-bounces@authlist.example',
};

function percentiles(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => (s[Math.min(s.length - 1, Math.floor(q * s.length))] as number).toFixed(3);
  return `p50 ${at(0.5)} ms  p95 ${at(0.95)} ms  p99 ${at(0.99)} ms  (n=${s.length})`;
}

/** Wall time of each run; the CPU time of each (this thread's and the process's helpers', e.g. GC), whose
 * median a busy machine inflates far less than the wall time's (other processes take the cores); and the
 * CPU time of the whole batch per run, which counts the garbage collection the runs caused. */
interface Measured {
  wall: number[];
  cpu: number[];
  cpuPerRun: number;
}

async function measure(n: number, run: () => Promise<unknown>): Promise<Measured> {
  const wall: number[] = [];
  const cpu: number[] = [];
  const batch = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const c = process.cpuUsage();
    const t = performance.now();
    await run();
    wall.push(performance.now() - t);
    const used = process.cpuUsage(c);
    cpu.push((used.user + used.system) / 1000);
  }
  const used = process.cpuUsage(batch);
  return { wall, cpu, cpuPerRun: (used.user + used.system) / 1000 / n };
}

function report(label: string, m: Measured): void {
  const sorted = [...m.cpu].sort((a, b) => a - b);
  const cpuP50 = (sorted[Math.floor(sorted.length / 2)] as number).toFixed(3);
  console.log(
    `${label.padEnd(30)} ${percentiles(m.wall)}  cpu p50 ${cpuP50} ms, ${m.cpuPerRun.toFixed(3)} ms/msg`,
  );
}

const warm = stepWith();
const first = await warm.run(direct);
if (first.record.dkim !== 'pass' || first.record.spf !== 'pass' || first.record.dmarc !== 'pass')
  throw new Error(`the bench message does not authenticate: ${first.verdict.header}`);
await measure(1500, () => warm.run(direct)); // JIT (it goes on optimising for a while) and cache
await measure(500, () => warm.run(viaList));
await measure(500, () => warm.run(unsigned));
report('warm, unsigned direct mail', await measure(2000, () => warm.run(unsigned)));
report('warm, signed direct mail', await measure(2000, () => warm.run(direct)));
report('warm, ARC-sealed forwarded', await measure(1000, () => warm.run(viaList)));
if (redis) {
  const tiered = stepWith(redis);
  await measure(200, () => tiered.run(direct));
  const asked = Number((await redis.info('stats')).match(/total_commands_processed:(\d+)/)?.[1]);
  report('warm, L1 + Redis, direct', await measure(2000, () => tiered.run(direct)));
  const after = Number((await redis.info('stats')).match(/total_commands_processed:(\d+)/)?.[1]);
  console.log(`  Redis commands during it (all clients of the server): ${after - asked - 1}`);
}

dns.delayMs = 5;
report('cold (5 ms DNS), direct', await measure(200, () => stepWith().run(direct)));
report('cold (5 ms DNS), forwarded', await measure(200, () => stepWith().run(viaList)));
console.log(
  `load average while measuring: ${(await import('node:os'))
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
redis?.disconnect();
await dns.close();
