/**
 * SMTP throughput and added latency beside the reference proxy, in one run: the shared harness
 * (../shared/bench, Postfix's smtp-source → proxy → smtp-sink) drives the direct path, Haraka 3.3 forwarding
 * with TCP_NODELAY (no scoring), MailSentra on its embedded store and MailSentra on Postgres, interleaved
 * rep by rep. MailSentra runs as `node dist/bundle/cli.js serve` with the verdict cache off, so every message is
 * scored (smtp-source sends the same message every time). Prints the harness's tables, then MailSentra's
 * throughput as a multiple of Haraka's from this run, and the CPU each proxy spent per message.
 * Needs `npm run build` first, Debian's postfix, and Haraka (installed by the shared harness from npm on
 * first use). Env: BENCH_COUNT (default 1000), BENCH_WARMUP (messages through each proxy before the runs,
 * default 2500), BENCH_REPS (default 3), BENCH_CONC (default 10,50),
 * BENCH_PROCESSES (n > 1 adds MailSentra on Postgres with `smtp.processes` n beside the others; default 1),
 * DATABASE_URL (default the local Postgres).
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { startTestDns } from '../test/helpers/dns-server.js';
import {
  freePort,
  freshDatabaseUrl,
  harness,
  harnessEnv,
  processTreeKb,
  requireHarness,
  runHarness,
  startProxy,
  startSink,
  warmUp,
} from './harness.js';

const count = Number(process.env.BENCH_COUNT ?? 1000);
const warmup = Number(process.env.BENCH_WARMUP ?? 2500);
const reps = process.env.BENCH_REPS ?? '3';
const concs = process.env.BENCH_CONC ?? '10,50';
const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const processes = Number(process.env.BENCH_PROCESSES ?? 1);
const harakaPeer = path.join(path.dirname(harness), 'haraka-peer.sh');

requireHarness();

// smtp-source sends from bench@test.local: its SPF and DMARC records come from a DNS server on loopback, as a
// site's resolver would answer them (then from the cache), and no lookup leaves the machine.
const dns = await startTestDns();
dns.add('test.local', { type: 'TXT', data: 'v=spf1 ip4:127.0.0.0/8 -all' });
dns.add('_dmarc.test.local', { type: 'TXT', data: 'v=DMARC1; p=none' });

function startHaraka(sinkPort: number, port: number): number | null {
  const harakaDir = process.env.HARAKA_DIR ?? '/tmp/haraka-peer';
  if (!existsSync(path.join(harakaDir, 'node_modules/Haraka/bin/haraka'))) {
    spawnSync('bash', [harakaPeer, 'install'], { stdio: 'inherit' });
  }
  const started = spawnSync('bash', [harakaPeer, 'start', String(port), String(sinkPort), '--nodelay'], {
    encoding: 'utf8',
  });
  const pid = Number(started.stdout.trim().split('\n').pop());
  if (started.status !== 0 || !Number.isInteger(pid)) {
    console.log(`Haraka did not start: ${started.stderr.trim()}`);
    return null;
  }
  return pid;
}

interface Run {
  kind: string;
  label: string;
  mode: string;
  size: number;
  conc: number;
  count: number;
  msgs_per_s: number;
  proxy_cpu_s: number | null;
  ok: boolean;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

/** MailSentra's medians against Haraka's, and each proxy's CPU per message, from the harness's JSON lines. */
function ratios(file: string, proxies: string[]): void {
  const runs = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Run)
    .filter((r) => r.kind === 'throughput' && r.ok && r.label === 'same-run');
  const at = (mode: string, conc: number) => runs.filter((r) => r.mode === mode && r.conc === conc);
  console.log('\n### Same run: msg/s (median), multiple of Haraka, CPU per message (median)\n');
  console.log('| path | conc | msg/s | × Haraka | × direct | CPU ms/msg |');
  console.log('|---|---|---|---|---|---|');
  for (const conc of concs.split(',').map(Number)) {
    const direct = median(at('direct', conc).map((r) => r.msgs_per_s));
    const haraka = median(at('haraka', conc).map((r) => r.msgs_per_s));
    for (const mode of ['direct', ...proxies]) {
      const rs = at(mode, conc);
      if (rs.length === 0) continue;
      const rate = median(rs.map((r) => r.msgs_per_s));
      const cpu = rs.every((r) => r.proxy_cpu_s !== null)
        ? `${median(rs.map((r) => ((r.proxy_cpu_s ?? 0) * 1000) / r.count)).toFixed(2)}`
        : '';
      const xHaraka = mode === 'direct' || !haraka ? '' : `${(rate / haraka).toFixed(2)}×`;
      console.log(
        `| ${mode} | ${conc} | ${rate.toFixed(0)} | ${xHaraka} | ${(rate / direct).toFixed(3)} | ${cpu} |`,
      );
    }
  }
}

console.log(
  `load average before: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
const db = await freshDatabaseUrl(base);
const dbMulti = processes > 1 ? await freshDatabaseUrl(base) : null;
const sink = await startSink();
const sinkPort = sink.port;
const services: ChildProcess[] = [];
let harakaPid: number | null = null;
try {
  const embedded = await startProxy(sinkPort, '', { DNS_SERVERS: dns.server });
  const postgres = await startProxy(sinkPort, db.url, { DNS_SERVERS: dns.server });
  services.push(embedded.child, postgres.child);
  const multi = dbMulti
    ? await startProxy(sinkPort, dbMulti.url, { DNS_SERVERS: dns.server, SMTP_PROCESSES: String(processes) })
    : null;
  if (multi) services.push(multi.child);
  const multiMode = `mailsentra-postgres-${processes}p`;
  const harakaPort = await freePort();
  harakaPid = startHaraka(sinkPort, harakaPort);
  // Every proxy, Haraka included, first handles BENCH_WARMUP messages.
  for (const port of [embedded.smtpPort, postgres.smtpPort, multi?.smtpPort, harakaPid ? harakaPort : null]) {
    if (port) await warmUp(port, 5120, warmup, sinkPort);
  }
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'mailsentra-smtp-bench-')), 'runs.jsonl');
  const args = [
    'compare',
    '--label',
    'same-run',
    '--proxy',
    `mailsentra-embedded=127.0.0.1:${embedded.smtpPort}`,
    '--proxy-pid',
    `mailsentra-embedded=${embedded.child.pid}`,
    '--proxy',
    `mailsentra-postgres=127.0.0.1:${postgres.smtpPort}`,
    '--proxy-pid',
    `mailsentra-postgres=${postgres.child.pid}`,
    ...(multi
      ? [
          '--proxy',
          `${multiMode}=127.0.0.1:${multi.smtpPort}`,
          '--proxy-pid',
          `${multiMode}=${multi.child.pid}`,
        ]
      : []),
    ...(harakaPid ? ['--proxy', `haraka=127.0.0.1:${harakaPort}`, '--proxy-pid', `haraka=${harakaPid}`] : []),
    '--sink-port',
    String(sinkPort),
    '--sizes',
    '5120',
    '--conc',
    concs,
    '--count',
    String(count),
    '--reps',
    reps,
    '--latency',
    '--lat-modes',
    'fresh',
    '--out',
    out,
    '--keep-sink',
  ];
  await runHarness(args, { env: harnessEnv() });
  ratios(out, [
    'mailsentra-embedded',
    'mailsentra-postgres',
    ...(multi ? [multiMode] : []),
    ...(harakaPid ? ['haraka'] : []),
  ]);
  for (const [name, svc] of [
    ['embedded', embedded],
    ['postgres', postgres],
    ...(multi ? ([[`postgres, ${processes} processes`, multi]] as const) : []),
  ] as const) {
    console.log(
      `MailSentra ${name} peak RSS: ${(processTreeKb(svc.child.pid as number, 'VmHWM') / 1024).toFixed(0)} MB`,
    );
  }
  console.log(
    `load average after: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
} finally {
  if (harakaPid) spawnSync('bash', [harakaPeer, 'stop'], { stdio: 'inherit' });
  for (const child of services) {
    child.kill('SIGTERM');
    if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
  }
  sink.stop();
  await db.drop();
  await dbMulti?.drop();
  await dns.close();
}
