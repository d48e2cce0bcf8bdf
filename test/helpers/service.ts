/**
 * A whole MailSentra on ephemeral ports, against a fresh database (a new database on the real Postgres when
 * DATABASE_URL is set, else in-memory PGlite) and the real Redis when REDIS_URL is set, relaying to a
 * recording sink. Tests build one in a line and stop it in another.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type App, type AppOptions, createApp } from '../../src/app.js';
import { type DeepPartial, loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { silentLogger } from '../../src/observability/log.js';
import { freshDatabaseUrl } from './db.js';
import { type Sink, startSink } from './sink.js';

/** A loopback port nothing listens on (discard): DNS questions sent there are refused at once. */
export const CLOSED_DNS = '127.0.0.1:9';

export interface TestService {
  app: App;
  config: Config;
  smtpPort: number;
  apiPort: number;
  /** 0 unless milter.listen is host:port. */
  milterPort: number;
  sink: Sink;
  stop(): Promise<void>;
}

function merge<T>(base: T, over: DeepPartial<T> | undefined): T {
  if (!over) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    const cur = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object'
        ? merge(cur, v as never)
        : v;
  }
  return out as T;
}

export async function startTestService(
  options: {
    config?: DeepPartial<Config>;
    sink?: Sink;
    /** Embedded database location when the config has no database URL (default in memory); a directory
     * lets a second service open the same database (restart tests). */
    pglite?: string;
    /** More options for createApp (sync interval and channels). */
    app?: Omit<AppOptions, 'logger' | 'storage'>;
  } = {},
): Promise<TestService> {
  const sink = options.sink ?? (await startSink());
  // A test that brings its own database URL (e.g. through a proxy it can cut) gets no fresh one.
  const ownDatabase = options.config?.database?.url !== undefined;
  const db = process.env.DATABASE_URL && !ownDatabase ? await freshDatabaseUrl() : null;
  const ownDataDir = mkdtempSync(path.join(tmpdir(), 'mailsentra-test-'));
  const config = loadConfig({
    file: null,
    env: {},
    overrides: merge<DeepPartial<Config>>(
      {
        // Never the working directory's ./data: a developer's own service may be using it.
        dataDir: ownDataDir,
        smtp: { listen: '127.0.0.1:0' },
        api: { listen: '127.0.0.1:0' },
        relay: { to: `127.0.0.1:${sink.port}`, timeoutMs: 5000 },
        database: { url: db?.url ?? null },
        redis: { url: process.env.REDIS_URL ?? null },
        // Every message through a worker thread, so the tests exercise the worker path too.
        scanner: { workers: 1, workerMinBytes: 0 },
        shutdownGraceMs: 2000,
        logBuffer: { flushIntervalMs: 20 },
        // Offline: no test asks the machine's resolver. A closed port refuses at once, so sender
        // authentication ends in temperror and the score decides; test/auth/ brings its own DNS server.
        dns: { servers: [CLOSED_DNS] },
      },
      options.config,
    ),
  });
  const app = await createApp(config, {
    ...options.app,
    logger: silentLogger(),
    storage: { pglite: options.pglite ?? 'memory://' },
  });
  const { smtpPort, apiPort, milterPort } = await app.start();
  return {
    app,
    config,
    smtpPort,
    apiPort,
    milterPort,
    sink,
    async stop() {
      await app.stop();
      if (!options.sink) await sink.close();
      await db?.drop();
      rmSync(ownDataDir, { recursive: true, force: true });
    },
  };
}
