/**
 * Load and cost curves (issue 7): MailSentra under the shared harness's `smtp-source` load, with figures read
 * from the service itself between runs — end-to-end p50/p99 from its `mailsentra_message_duration_seconds`
 * histogram (end of DATA to the reply), event-loop delay p99 from prom-client's `monitorEventLoopDelay`
 * gauges (reset at every scrape, so each figure covers one run), RSS now and peak from /proc.
 *   - size curve: 1 KiB → 1 MiB at concurrency 10
 *   - concurrency curve: 1 → 200 at 5 KiB
 *   - sustained: 120 concurrent sessions, RSS before and after (memory growth)
 * Verdict cache off (smtp-source repeats one message). Needs `npm run build` and Debian's postfix.
 * Env: DATABASE_URL (default: embedded PGlite), BENCH_SCALE (message counts multiplier, default 1).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import {
  freshDatabaseUrl,
  harness,
  harnessEnv,
  processTreeKb,
  requireHarness,
  startProxy,
  startSink,
} from './harness.js';

const scale = Number(process.env.BENCH_SCALE ?? '1');

requireHarness();

interface Scrape {
  buckets: Map<number, number>;
  count: number;
  eldP99: number;
}

async function scrape(apiPort: number): Promise<Scrape> {
  const text = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
  const buckets = new Map<number, number>();
  for (const m of text.matchAll(/^mailsentra_message_duration_seconds_bucket\{le="([^"]+)"\} (\S+)$/gm)) {
    buckets.set(m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]), Number(m[2]));
  }
  const count = Number(/^mailsentra_message_duration_seconds_count (\S+)$/m.exec(text)?.[1] ?? 0);
  const eldP99 = Number(/^nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
  return { buckets, count, eldP99 };
}

/** A quantile of the messages between two scrapes, interpolated inside its bucket like histogram_quantile. */
function quantile(before: Scrape, after: Scrape, q: number): number {
  const total = after.count - before.count;
  if (total <= 0) return Number.NaN;
  const les = [...after.buckets.keys()].sort((a, b) => a - b);
  let prevLe = 0;
  let prevCum = 0;
  for (const le of les) {
    const cum = (after.buckets.get(le) ?? 0) - (before.buckets.get(le) ?? 0);
    if (cum >= q * total) {
      if (!Number.isFinite(le)) return prevLe;
      return prevLe + ((le - prevLe) * (q * total - prevCum)) / Math.max(cum - prevCum, 1);
    }
    prevLe = le;
    prevCum = cum;
  }
  return prevLe;
}

// A fresh database per run: the current default model, an empty log.
const benchDb = process.env.DATABASE_URL ? await freshDatabaseUrl() : null;
const sink = await startSink('ignore');
const sinkPort = sink.port;
const svc = await startProxy(sinkPort, benchDb?.url ?? '');
const pid = svc.child.pid as number;
const rows: string[] = [];

async function cell(label: string, size: number, conc: number, count: number) {
  const before = await scrape(svc.apiPort);
  const out = path.join(svc.dataDir, 'run.jsonl');
  rmSync(out, { force: true });
  spawnSync(
    'bash',
    [harness, 'run', `127.0.0.1:${svc.smtpPort}`, String(size), String(count), String(conc)].concat([
      '--sink-port',
      String(sinkPort),
      '--proxy-pid',
      String(pid),
      '--json',
      out,
    ]),
    { stdio: 'ignore', env: harnessEnv() },
  );
  const after = await scrape(svc.apiPort);
  const r = JSON.parse(readFileSync(out, 'utf8').trim().split('\n').pop() ?? '{}') as {
    msgs_per_s?: number;
    ok?: boolean;
    delivered?: number;
    proxy_cpu_s?: number;
    wall_s?: number;
  };
  const ms = (s: number) => (s * 1000).toFixed(1);
  const line = [
    label,
    `${(size / 1024).toFixed(0)} KiB`,
    conc,
    count,
    r.msgs_per_s?.toFixed(0) ?? '?',
    ms(quantile(before, after, 0.5)),
    ms(quantile(before, after, 0.99)),
    ms(after.eldP99),
    r.proxy_cpu_s && r.wall_s ? (r.proxy_cpu_s / r.wall_s).toFixed(2) : '?',
    (processTreeKb(pid, 'VmRSS') / 1024).toFixed(0),
    (processTreeKb(pid, 'VmHWM') / 1024).toFixed(0),
    r.ok ? 'ok' : `FAILED (delivered ${r.delivered})`,
  ].join(' | ');
  rows.push(`| ${line} |`);
  console.log(`| ${line} |`);
}

console.log(
  '| run | size | conc | msgs | msg/s | p50 ms | p99 ms | loop delay p99 ms | service cores | RSS MB | peak RSS MB | |\n|---|---|---|---|---|---|---|---|---|---|---|---|',
);
try {
  const n = (x: number) => Math.max(20, Math.round(x * scale));
  await cell('warm-up', 5120, 10, n(300));
  // Concurrency first, so its peak RSS (VmHWM only grows) is that of 5 KiB traffic, not of the 1 MiB
  // messages of the size curve.
  for (const conc of [1, 10, 50, 100, 200])
    await cell('concurrency curve', 5120, conc, n(conc === 1 ? 500 : 2000));
  for (const [size, count] of [
    [1024, 1000],
    [5120, 1000],
    [51200, 500],
    [262144, 200],
    [1048576, 60],
  ] as const) {
    await cell('size curve', size, 10, n(count));
  }
  // Memory growth: five identical sustained rounds; after each, RSS and the V8 heap in use. A leak shows as
  // a climb across rounds; GC timing alone moves the heap figure up and down.
  const heapUsedMb = async () => {
    const text = await (await fetch(`http://127.0.0.1:${svc.apiPort}/metrics`)).text();
    return Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? 0) / 1048576;
  };
  const rounds: string[] = [];
  for (let round = 1; round <= 5; round++) {
    await cell(`sustained ${round}`, 5120, 120, n(6000));
    await new Promise((r) => setTimeout(r, 2000));
    rounds.push(`${(processTreeKb(pid, 'VmRSS') / 1024).toFixed(0)}/${(await heapUsedMb()).toFixed(0)}`);
  }
  console.log(`sustained 120 sessions, RSS/heap used MB after each round: ${rounds.join(', ')}`);
} finally {
  svc.child.kill('SIGTERM');
  await new Promise((r) => svc.child.once('exit', r));
  sink.stop();
  await benchDb?.drop();
}
