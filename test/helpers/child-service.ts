/**
 * `mailsentra serve` as a child process, for tests about what only a real process can show: signals, SIGKILL and
 * restart. It runs the sources under test through tsx, or the bundled build that `npm start` runs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { freshDatabaseUrl } from './db.js';
import { type Sink, startSink } from './sink.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface ChildService {
  proc: ChildProcess;
  smtpPort: number;
  apiPort: number;
  /** Everything the service wrote to stdout (pino JSON lines). */
  output(): string;
  exited: Promise<number | null>;
}

/** Waits until something listens on a loopback port (of `host`) or a unix socket path. */
export async function waitForPort(
  port: number | string,
  timeoutMs = 60_000,
  host = '127.0.0.1',
): Promise<void> {
  // Generous: under CI's parallel load the child compiles TypeScript and opens its database first.
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const connected = () => {
        s.destroy();
        resolve(true);
      };
      const s = typeof port === 'number' ? net.connect(port, host, connected) : net.connect(port, connected);
      s.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`service did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startChildService(options: {
  smtpPort: number;
  apiPort: number;
  relayPort: number;
  databaseUrl: string | null;
  dataDir?: string;
  env?: Record<string, string>;
  /** How long to wait for it to listen (default 60 s). */
  timeoutMs?: number;
  /** 'built': the bundled build that `npm start` runs (dist/bundle/cli.js) instead of the sources. */
  entry?: 'source' | 'built';
}): Promise<ChildService> {
  const args =
    options.entry === 'built'
      ? [path.join(root, 'dist/bundle/cli.js'), 'serve']
      : [
          '--import',
          pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href,
          path.join(root, 'src/cli.ts'),
          'serve',
        ];
  const proc = spawn(process.execPath, args, {
    env: {
      ...process.env,
      SMTP_LISTEN: `127.0.0.1:${options.smtpPort}`,
      API_LISTEN: `127.0.0.1:${options.apiPort}`,
      RELAY_TO: `127.0.0.1:${options.relayPort}`,
      DATA_DIR: options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'mailsentra-child-')),
      DATABASE_URL: options.databaseUrl ?? '',
      REDIS_URL: '',
      LOG_LEVEL: 'info',
      DNS_SERVERS: '127.0.0.1:9', // offline: sender authentication is refused at once (temperror)
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let log = '';
  proc.stdout?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  try {
    await waitForPort(options.smtpPort, options.timeoutMs);
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`${(err as Error).message}; its output:\n${log.slice(-3000)}`);
  }
  return { proc, smtpPort: options.smtpPort, apiPort: options.apiPort, output: () => log, exited };
}

export interface ChildSurroundings {
  /** A fresh database on the real Postgres (DATABASE_URL). */
  readonly db: { url: string };
  /** The service's next hop. */
  readonly sink: Sink;
  /** The child a test runs; still running after the block, it is killed. */
  child: ChildService | null;
}

/**
 * What a child service of one describe block runs against, made before its tests: a fresh database and a
 * recording next hop. After them the child left running is killed, the sink closed and the database dropped.
 */
export function childSurroundings(): ChildSurroundings {
  let db: { url: string; drop(): Promise<void> } | null = null;
  let sink: Sink | null = null;
  const around = {
    get db() {
      if (!db) throw new Error('no database yet');
      return db;
    },
    get sink() {
      if (!sink) throw new Error('no sink yet');
      return sink;
    },
    child: null as ChildService | null,
  };
  beforeAll(async () => {
    db = await freshDatabaseUrl();
    sink = await startSink();
  });
  afterAll(async () => {
    const { child } = around;
    if (child && child.proc.exitCode === null) child.proc.kill('SIGKILL');
    await sink?.close();
    await db?.drop();
  });
  return around;
}
