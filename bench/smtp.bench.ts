/**
 * SMTP throughput and added latency, measured the team's way: the shared harness in ../shared/bench
 * (Postfix's smtp-source → smtp-sink), direct vs through MailSentra, interleaved in one run. MailSentra runs
 * as its own process (`node dist/cli.js serve`) with the verdict cache off (smtp-source sends the same
 * message every time) — one SMTP process, then two (`smtp.processes`, with Postgres) — then with the cache on. Prints the harness's tables and the service's RSS.
 * Needs `npm run build` first and Debian's postfix (smtp-source, smtp-sink).
 * Env: BENCH_COUNT (default 1000), BENCH_REPS (default 1), DATABASE_URL (default: embedded PGlite).
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  freePort,
  freshDatabaseUrl,
  harness,
  processTreeKb,
  requireHarness,
  root,
  spawnService,
  waitForPort,
} from './harness.js';

const count = process.env.BENCH_COUNT ?? '1000';
const reps = process.env.BENCH_REPS ?? '1';

requireHarness();

/** Peak RSS of the service (the process and its cluster workers: a sum of peaks). */
const rssMb = (pid: number) => processTreeKb(pid, 'VmHWM') / 1024;

async function startService(
  sinkPort: number,
  cache: 'on' | 'off',
  processes: number,
): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawnService({
    SMTP_LISTEN: `127.0.0.1:${port}`,
    RELAY_TO: `127.0.0.1:${sinkPort}`,
    VERDICT_CACHE: cache,
    SMTP_PROCESSES: String(processes),
    DATA_DIR: mkdtempSync(path.join(tmpdir(), 'mailsentra-bench-')),
    // A real Postgres when given (production-like; the embedded PGlite runs on the service's main thread).
    DATABASE_URL: benchDb?.url ?? '',
  });
  await waitForPort(port);
  return { port, child };
}

// A fresh database per run: the current default model, an empty log.
const benchDb = process.env.DATABASE_URL ? await freshDatabaseUrl() : null;
const sinkPort = await freePort();
spawnSync('bash', [harness, 'sink', 'start', String(sinkPort)], { stdio: 'inherit' });
try {
  // One process, then (with Postgres) two SMTP processes (smtp.processes); cache on last. On this 2-core
  // machine smtp-source and smtp-sink take a share of the cores, so compare before choosing.
  const multi = process.env.DATABASE_URL ? 2 : 1;
  const runs: { cache: 'on' | 'off'; processes: number }[] = [
    { cache: 'off', processes: 1 },
    ...(multi > 1 ? [{ cache: 'off' as const, processes: multi }] : []),
    { cache: 'on', processes: 1 },
  ];
  for (const { cache, processes } of runs) {
    const svc = await startService(sinkPort, cache, processes);
    const label = `verdict cache ${cache}, smtp.processes ${processes}`;
    console.log(`\n--- MailSentra (pid ${svc.child.pid}), ${label} ---`);
    const args = [
      'compare',
      '--proxy',
      `mailsentra=127.0.0.1:${svc.port}`,
      '--proxy-pid',
      `mailsentra=${svc.child.pid}`,
      '--sink-port',
      String(sinkPort),
      '--count',
      count,
      '--reps',
      reps,
    ];
    if (cache === 'off') args.push('--latency');
    else args.push('--sizes', '5120', '--conc', '10,50');
    spawnSync('bash', [harness, ...args], {
      stdio: 'inherit',
      env: { ...process.env, SMTP_TOOLS_DIR: root },
    });
    console.log(`MailSentra peak RSS (${label}): ${rssMb(svc.child.pid as number).toFixed(0)} MB`);
    svc.child.kill('SIGTERM');
    await new Promise((r) => svc.child.once('exit', r));
  }
} finally {
  spawnSync('bash', [harness, 'sink', 'stop', String(sinkPort)], { stdio: 'inherit' });
  await benchDb?.drop();
}
