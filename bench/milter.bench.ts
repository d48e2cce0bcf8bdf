/**
 * Postfix alone, Postfix + MailSentra as its milter (over TCP and over a unix socket), and Postfix +
 * MailSentra as an after-queue content_filter, side by side in one run (the machine's speed moves between
 * runs: compare only within one). Each is a real Postfix from the documented config/postfix files
 * (test/helpers/postfix.ts) relaying to the shared harness's smtp-sink; smtp-source sends 5 KiB messages
 * (BENCH_SIZE) at concurrency 10 and 50, the set-ups interleaved per repetition. One MailSentra process
 * (`node dist/bundle/cli.js serve`, verdict cache off since smtp-source sends the same message every time)
 * serves the TCP milter and the content filter; a second, milter only, listens on the unix socket.
 *
 * Figures: accepted/s (smtp-source's time: what the sending client sees), delivered/s (until the sink
 * holds every message: the content filter works after the queue, so only this one counts its cost), and
 * MailSentra's CPU per message. Needs `npm run build`, root (Postfix) and Debian's postfix.
 * Env: BENCH_COUNT (default 1000), BENCH_WARMUP (messages through each set-up first, default 2500),
 * BENCH_REPS (default 1), BENCH_CONC (default 10,50), BENCH_SIZE (bytes, default 5120), BENCH_REUSE (on:
 * many messages per connection), BENCH_CACHE (on/off, default off), DATABASE_URL (default: embedded
 * PGlite).
 */
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestDns } from '../test/helpers/dns-server.js';
import { type PostfixInstance, startPostfix } from '../test/helpers/postfix.js';
import {
  freePort,
  freshDatabaseUrl,
  requireHarness,
  runHarness,
  spawnService,
  startSink,
  waitForPort,
  warmUp,
} from './harness.js';

const count = Number(process.env.BENCH_COUNT ?? '1000');
const warmup = Number(process.env.BENCH_WARMUP ?? '2500');
const reps = Number(process.env.BENCH_REPS ?? '1');
const concs = (process.env.BENCH_CONC ?? '10,50').split(',').map(Number);
const SIZE = Number(process.env.BENCH_SIZE ?? '5120');
// Every message of a client session over one SMTP connection (and so one milter connection), as a busy
// upstream MTA sends them; off: one connection per message.
const reuse = process.env.BENCH_REUSE === 'on';
// on: the same message is then scored once, so the CPU figure is the transport and pipeline alone.
const cache = process.env.BENCH_CACHE === 'on' ? 'on' : 'off';

requireHarness();
if (process.getuid?.() !== 0) {
  console.log('skipped: starting Postfix needs root');
  process.exit(0);
}

type Setup =
  | 'postfix alone'
  | 'postfix + milter'
  | 'postfix + milter, unix socket'
  | 'postfix + content_filter';

interface Result {
  setup: Setup;
  conc: number;
  accepted: number;
  delivered: number;
  cpuMs: number;
  ok: boolean;
}

// smtp-source's sender domain gets its SPF and DMARC records from a DNS server on loopback (no lookup leaves
// the machine, and the figures do not depend on the system resolver).
const dns = await startTestDns();
dns.add('test.local', { type: 'TXT', data: 'v=spf1 ip4:127.0.0.0/8 -all' });
dns.add('_dmarc.test.local', { type: 'TXT', data: 'v=DMARC1; p=none' });
const benchDb = process.env.DATABASE_URL ? await freshDatabaseUrl() : null;
const state = mkdtempSync(path.join(tmpdir(), 'mailsentra-milter-bench-'));
// Outside the private state directory: Postfix's smtpd (user postfix) must reach the milter's socket.
const socketDir = mkdtempSync(path.join(tmpdir(), 'mailsentra-milter-sock-'));
chmodSync(socketDir, 0o755);
const sink = await startSink();
const sinkPort = sink.port;
const postfixes: PostfixInstance[] = [];
const services: ChildProcess[] = [];

try {
  const smtpPort = await freePort();
  const milterPort = await freePort();
  const reinjectPort = await freePort();
  const service = spawnService({
    SMTP_LISTEN: `127.0.0.1:${smtpPort}`,
    MILTER_LISTEN: `127.0.0.1:${milterPort}`,
    DNS_SERVERS: dns.server,
    API_LISTEN: `127.0.0.1:${await freePort()}`,
    RELAY_TO: `127.0.0.1:${reinjectPort}`,
    VERDICT_CACHE: cache,
    DATA_DIR: mkdtempSync(path.join(state, 'data-')),
    DATABASE_URL: benchDb?.url ?? '',
  });
  services.push(service);
  // The same, as a milter on a unix socket (no SMTP), in a process of its own so that its CPU is counted
  // apart.
  const milterSocket = path.join(socketDir, 'milter.sock');
  const unixConfig = path.join(state, 'milter-unix.yaml');
  // Postfix's smtpd runs as user postfix, in no group of this bench's: the socket is open to every user.
  writeFileSync(unixConfig, "milter:\n  socketMode: '0666'\n");
  const unixService = spawnService({
    SMTP_LISTEN: 'off',
    MILTER_LISTEN: milterSocket,
    MAILSENTRA_CONFIG: unixConfig,
    DNS_SERVERS: dns.server,
    API_LISTEN: `127.0.0.1:${await freePort()}`,
    VERDICT_CACHE: cache,
    DATA_DIR: mkdtempSync(path.join(state, 'data-')),
    DATABASE_URL: benchDb?.url ?? '',
  });
  services.push(unixService);
  await waitForPort(milterPort, 180_000);
  await waitForPort(milterSocket, 180_000);
  const pidOf = (setup: Setup): number =>
    (setup === 'postfix + milter, unix socket' ? unixService.pid : service.pid) as number;

  const base = { filterPort: 0, reinjectPort: 0, nextHopPort: sinkPort };
  const alone = await startPostfix({
    ...base,
    mode: 'milter',
    smtpdPort: await freePort(),
    reinjectPort: await freePort(),
    mainCf: { smtpd_milters: '', non_smtpd_milters: '' },
  });
  postfixes.push(alone);
  const milter = await startPostfix({
    ...base,
    mode: 'milter',
    smtpdPort: await freePort(),
    reinjectPort: await freePort(),
    milterPort,
  });
  postfixes.push(milter);
  const milterUnix = await startPostfix({
    ...base,
    mode: 'milter',
    smtpdPort: await freePort(),
    reinjectPort: await freePort(),
    mainCf: { smtpd_milters: `unix:${milterSocket}`, non_smtpd_milters: `unix:${milterSocket}` },
  });
  postfixes.push(milterUnix);
  const contentFilter = await startPostfix({
    ...base,
    mode: 'after-queue',
    smtpdPort: await freePort(),
    filterPort: smtpPort,
    reinjectPort,
  });
  postfixes.push(contentFilter);
  const setups: [Setup, PostfixInstance][] = [
    ['postfix alone', alone],
    ['postfix + milter', milter],
    ['postfix + milter, unix socket', milterUnix],
    ['postfix + content_filter', contentFilter],
  ];

  async function run(setup: Setup, port: number, conc: number, rep: number): Promise<Result> {
    const json = path.join(state, 'runs.jsonl');
    const started = performance.now();
    await runHarness(
      [
        'run',
        `127.0.0.1:${port}`,
        String(SIZE),
        String(count),
        String(conc),
        '--sink-port',
        String(sinkPort),
        '--proxy-pid',
        String(pidOf(setup)),
        '--settle',
        '120',
        '--label',
        setup.replaceAll(' ', ''),
        '--rep',
        String(rep),
        '--json',
        json,
        ...(reuse ? ['--reuse'] : []),
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    // Until the sink held them all (the harness waits for that, polling every 50 ms).
    const endToEnd = (performance.now() - started) / 1000;
    const line = JSON.parse(readFileSync(json, 'utf8').trim().split('\n').at(-1) as string);
    return {
      setup,
      conc,
      accepted: line.msgs_per_s,
      delivered: count / endToEnd,
      cpuMs: ((line.proxy_cpu_s ?? 0) * 1000) / count,
      ok: line.ok === true,
    };
  }

  // Warm up each path: Postfix's process pools, and MailSentra's JIT (its background compiler threads alone
  // cost about 0.3 ms a message over a process's first two thousand).
  for (const [, pf] of setups) await warmUp(pf.port, SIZE, warmup, sinkPort);
  const results: Result[] = [];
  for (let rep = 1; rep <= reps; rep++) {
    for (const conc of concs) {
      // Rotate which set-up goes first, so a drift of the machine does not favour one.
      const order = setups.map(
        (_, i) => setups[(i + rep + conc) % setups.length] as [Setup, PostfixInstance],
      );
      for (const [setup, pf] of order) {
        const r = await run(setup, pf.port, conc, rep);
        results.push(r);
        console.log(
          `${setup.padEnd(30)} c${conc}  accepted ${r.accepted.toFixed(1)}/s  delivered ${r.delivered.toFixed(1)}/s  MailSentra CPU ${r.cpuMs.toFixed(2)} ms/msg${r.ok ? '' : '  (FAILED: not every message delivered)'}`,
        );
      }
    }
  }

  console.log(
    `\n${(SIZE / 1024).toFixed(0)} KiB, ${count} messages per run, ${reps} rep(s), verdict cache ${cache}; medians:`,
  );
  console.log(
    '| set-up | conc | accepted msg/s | delivered msg/s | vs Postfix alone (delivered) | MailSentra CPU ms/msg |',
  );
  console.log('|---|---|---|---|---|---|');
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  for (const conc of concs) {
    const of = (s: Setup) => results.filter((r) => r.setup === s && r.conc === conc);
    const aloneDelivered = median(of('postfix alone').map((r) => r.delivered));
    for (const [setup] of setups) {
      const rs = of(setup);
      const delivered = median(rs.map((r) => r.delivered));
      console.log(
        `| ${setup} | ${conc} | ${median(rs.map((r) => r.accepted)).toFixed(1)} | ${delivered.toFixed(1)} | ${((100 * delivered) / aloneDelivered).toFixed(0)} % | ${setup === 'postfix alone' ? '—' : median(rs.map((r) => r.cpuMs)).toFixed(2)} |`,
      );
    }
  }
} finally {
  for (const pf of postfixes) await pf.stop();
  for (const service of services) {
    if (service.exitCode !== null) continue;
    service.kill('SIGTERM');
    await new Promise((r) => service.once('exit', r));
  }
  sink.stop();
  await benchDb?.drop();
  await dns.close();
  rmSync(state, { recursive: true, force: true });
  rmSync(socketDir, { recursive: true, force: true });
}
