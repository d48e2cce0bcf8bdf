/**
 * What the SMTP benches share: the team's harness (../shared/bench/smtp-bench.sh, smtp-source/smtp-sink),
 * free ports, the built service started and waited for, and its memory read from /proc (the process and, with
 * smtp.processes > 1, its cluster workers). Ports and databases come from the test helpers.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitForPort } from '../test/helpers/child-service.js';
import { freePort } from '../test/helpers/free-port.js';

export { freshDatabaseUrl } from '../test/helpers/db.js';
export { freePort, waitForPort };

export const root = fileURLToPath(new URL('..', import.meta.url));
// SMTP_BENCH_HARNESS: where the harness is when this checkout is not beside ../shared (a git worktree).
export const harness = process.env.SMTP_BENCH_HARNESS ?? path.resolve(root, '../shared/bench/smtp-bench.sh');

/** Exits the bench with a note when the harness or Postfix's smtp-source is missing. */
export function requireHarness(): void {
  if (!existsSync(harness) || spawnSync('which', ['smtp-source']).status !== 0) {
    console.log('skipped: needs ../shared/bench/smtp-bench.sh and smtp-source (Debian postfix)');
    process.exit(0);
  }
}

/** VmRSS or VmHWM in KiB, summed over the process and its children (a sum of peaks for VmHWM). */
export function processTreeKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  return [String(pid), ...children].reduce((sum, p) => {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      return sum + Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    } catch {
      return sum;
    }
  }, 0);
}

/**
 * The built service (`node dist/bundle/cli.js serve`, as `npm start` runs it) as its own process: `env` over this process's, without Redis and
 * logging warnings only unless `env` says otherwise; its stderr shown, its stdout ignored or piped.
 * BENCH_CPU_PROF=dir profiles it (`--cpu-prof`; Node refuses that flag in NODE_OPTIONS), one file per
 * process written when it stops.
 */
export function spawnService(
  env: Record<string, string>,
  stdout: 'ignore' | 'pipe' = 'ignore',
): ChildProcess {
  const profile = process.env.BENCH_CPU_PROF;
  const nodeArgs = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
  return spawn(process.execPath, [...nodeArgs, path.join(root, 'dist/bundle/cli.js'), 'serve'], {
    env: { ...process.env, LOG_LEVEL: 'warn', REDIS_URL: '', ...env },
    stdio: ['ignore', stdout, 'inherit'],
  });
}

/** What the harness's runs need in their environment: smtp-source and smtp-sink found from this checkout. */
export const harnessEnv = (): NodeJS.ProcessEnv => ({ ...process.env, SMTP_TOOLS_DIR: root });

/**
 * Sends `count` messages of `size` bytes at concurrency 10 through 127.0.0.1:`port` (to the sink on
 * `sinkPort`), unmeasured: a Node process keeps compiling for its first two thousand or so messages, and
 * the benches report the steady state a running service is in.
 */
export async function warmUp(port: number, size: number, count: number, sinkPort: number): Promise<void> {
  if (count <= 0) return;
  await runHarness(
    ['run', `127.0.0.1:${port}`, String(size), String(count), '10', '--sink-port', String(sinkPort)],
    { env: harnessEnv(), stdio: 'ignore' },
  );
}

/** The harness's smtp-sink on a free port, which every bench's proxies relay to; `stop()` ends it. */
export async function startSink(
  stdio: 'ignore' | 'inherit' = 'inherit',
): Promise<{ port: number; stop(): void }> {
  const port = await freePort();
  spawnSync('bash', [harness, 'sink', 'start', String(port)], { stdio });
  return { port, stop: () => spawnSync('bash', [harness, 'sink', 'stop', String(port)], { stdio }) };
}

/**
 * The built service as the SMTP proxy under a bench: fresh ports and data directory, relaying to `sinkPort`,
 * the verdict cache off (smtp-source sends one message again and again, and each must be scored), `env` on
 * top; resolves once its SMTP and API ports accept connections.
 */
export async function startProxy(
  sinkPort: number,
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<{ smtpPort: number; apiPort: number; child: ChildProcess; dataDir: string }> {
  const smtpPort = await freePort();
  const apiPort = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mailsentra-bench-'));
  const child = spawnService({
    SMTP_LISTEN: `127.0.0.1:${smtpPort}`,
    API_LISTEN: `127.0.0.1:${apiPort}`,
    RELAY_TO: `127.0.0.1:${sinkPort}`,
    VERDICT_CACHE: 'off',
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    ...env,
  });
  await waitForPort(smtpPort, 120_000);
  await waitForPort(apiPort, 120_000);
  return { smtpPort, apiPort, child, dataDir };
}

/**
 * Runs the harness (`smtp-bench.sh ARGS`) without blocking this process's event loop: a bench that serves
 * something itself (the loopback DNS server) must go on answering while smtp-source runs.
 */
export function runHarness(
  args: string[],
  options: { stdio?: 'inherit' | 'ignore' | ['ignore', 'ignore', 'inherit']; env?: NodeJS.ProcessEnv } = {},
): Promise<number | null> {
  const child = spawn('bash', [harness, ...args], {
    stdio: options.stdio ?? 'inherit',
    env: options.env ?? process.env,
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}
