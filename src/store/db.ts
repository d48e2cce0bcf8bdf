/**
 * The database handle: Kysely over a `pg` pool when `database.url` is set, else embedded PGlite under
 * `<dataDir>/pglite` (or in memory for `memory://`). Migrations run through Kysely's Migrator.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import type { Config } from '../config/schema.js';
import { CliError } from '../errors.js';
import { filesystemSpace } from '../util/disk.js';
import { acquireDirLock, type DirLock } from './dir-lock.js';
import { migrationProvider } from './migrations/index.js';
import { startPgliteThread } from './pglite-remote.js';
import type { Database } from './schema.js';
import { storableTextPlugin } from './text.js';

export type Db = Kysely<Database>;

export interface OpenedDb {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** The directory whose lock this process holds (embedded store on disk), else null. */
  lockDir: string | null;
  /** Settles with the reason if the embedded database stops on its own (pglite-remote.ts); never for Postgres,
   * whose pool reconnects. */
  failed: Promise<Error>;
  close(): Promise<void>;
}

/** What holds an embedded directory, named in the refusal another process gets (`serve`, `apikey create`). */
function holderCommand(): string {
  const words: string[] = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const a = argv[i] as string;
    if (a === '--config') i++;
    else if (!a.startsWith('-')) words.push(a);
  }
  return words.join(' ') || 'library';
}

/**
 * `pglite` may be `memory://` (tests) or a directory; default `<dataDir>/pglite`. An embedded directory is
 * locked (its parent holds `mailsentra.lock`, see dir-lock.ts) before anything in it is touched, and until
 * close: a second opener gets DATA_DIR_LOCKED.
 */
export async function openDb(config: Config, pglite?: string): Promise<OpenedDb> {
  if (config.database.url) {
    // Imported only here: the embedded store never loads the Postgres client.
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({
      connectionString: config.database.url,
      max: config.database.poolSize,
      // A server that stops answering fails a new connection in bounded time, and a dead peer of an open
      // one is found by TCP keepalive rather than never.
      connectionTimeoutMillis: config.database.timeoutMs,
      keepAlive: true,
    });
    // An idle client's error (server restart) must not crash the process; the next query reconnects.
    pool.on('error', () => {});
    // The pool listens for errors only on idle clients. A reset while Kysely holds a client between
    // statements (inside a transaction) would otherwise be an uncaught exception that ends the process;
    // with this, the next statement fails instead, and the pool drops the client when it is released
    // (pg marks it not queryable).
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool }),
      plugins: [storableTextPlugin],
    });
    return {
      db,
      kind: 'postgres',
      lockDir: null,
      failed: new Promise<Error>(() => {}),
      close: () => db.destroy(),
    };
  }
  const dir = pglite ?? path.resolve(config.dataDir, 'pglite');
  let lock: DirLock | null = null;
  if (!dir.startsWith('memory://')) {
    mkdirSync(path.dirname(dir), { recursive: true });
    lock = await acquireDirLock(path.dirname(dir), holderCommand());
    mkdirSync(dir, { recursive: true });
  }
  try {
    return await openPglite(dir, lock);
  } catch (err) {
    lock?.release();
    throw err;
  }
}

export { createPgliteClient } from './pglite-client.js';

/** Where the build leaves the embedded store's template (beside the default model, at the package root). */
export function storeTemplatePath(): string {
  return fileURLToPath(new URL('../../models/embedded-store.tar.gz', import.meta.url));
}

/** The template for a directory that holds no cluster yet; null for an existing one or without a template. */
function templateFor(dir: string): Buffer | null {
  if (dir.startsWith('memory://') || existsSync(path.join(dir, 'PG_VERSION'))) return null;
  try {
    return readFileSync(storeTemplatePath());
  } catch {
    return null; // not built (a bare `tsc`): PGlite creates the cluster itself
  }
}

/** Below this, a start failure is put down to the disk: recovery writes WAL files of 16 MB and a checkpoint. */
const START_MIN_FREE_BYTES = 64 * 1024 * 1024;

/**
 * PGlite reports a start it could not finish only as "failed to initialize"; when the directory's filesystem
 * is nearly full (after the database stopped on a full disk, say) that is the cause to name, with the fix.
 */
function diskFullAtStart(dir: string): CliError | null {
  const free = filesystemSpace(dir)?.free;
  if (free === undefined || free >= START_MIN_FREE_BYTES) return null;
  return new CliError(
    'DATA_DIR_FULL',
    75,
    `the embedded database in ${dir} cannot start: its filesystem has ${(free / 1048576).toFixed(0)} MB free ` +
      '(it needs room for its WAL); free space and start again',
  );
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
]);
// SQLSTATE: the server is starting or shutting down (try again), or it refuses these credentials or
// this database (the setting is wrong).
const NOT_YET = new Set(['57P03', '57P01']);
const REFUSED = new Set(['3D000', '28P01', '28000', 'NO_TLS']);

/**
 * What to throw when the first query failed: for a Postgres server that cannot be used, one line naming the
 * setting and the server (never its credentials), exit 75 when it may answer later (a supervisor starts
 * again), 78 when the setting is wrong; any other failure (and the embedded store's, `url` null) as it is.
 */
export function firstQueryError(err: unknown, url: string | null): unknown {
  const given = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : '';
  // node-postgres reports these two without a code.
  const code =
    typeof given === 'string'
      ? given
      : /does not support SSL/i.test(message)
        ? 'NO_TLS'
        : /Connection terminated unexpectedly|timeout expired/i.test(message)
          ? 'ECONNRESET'
          : null;
  if (url === null || code === null) return err;
  let server = 'the database';
  try {
    const u = new URL(url);
    server = `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    // The schema checked its form; a URL that does not parse is named without its address.
  }
  const reason = err instanceof Error ? err.message : code;
  if (UNREACHABLE.has(code) || NOT_YET.has(code))
    return new CliError(
      'DATABASE_UNREACHABLE',
      75,
      `cannot reach the database at ${server} (database.url, env DATABASE_URL): ${reason}; start again once it answers`,
    );
  if (REFUSED.has(code))
    return new CliError(
      'DATABASE_REFUSED',
      78,
      `the database at ${server} refused the connection (database.url, env DATABASE_URL): ${reason}`,
    );
  return err;
}

async function openPglite(dir: string, lock: DirLock | null): Promise<OpenedDb> {
  // In a thread of its own: PGlite runs each query synchronously, and on this thread it would hold SMTP,
  // scoring and the API for every verdict-log batch.
  const [client, { pgliteDialect }] = await Promise.all([
    startPgliteThread(dir, templateFor(dir)).catch((err: unknown) => {
      throw diskFullAtStart(dir) ?? err;
    }),
    import('./pglite-dialect.js'),
  ]);
  const dialect = pgliteDialect(client);
  const db = new Kysely<Database>({ dialect, plugins: [storableTextPlugin] });
  return {
    db,
    kind: 'pglite',
    lockDir: lock ? path.dirname(lock.file) : null,
    failed: client.failed,
    close: async () => {
      await db.destroy();
      if (!client.closed) await client.close();
      lock?.release();
    },
  };
}

/**
 * True when the migration table lists exactly the known migrations. Kysely's Migrator first introspects the
 * catalogue (every table and column) to find its own tables, which on the embedded store is the costliest
 * query of a start; a database that is up to date needs only its list of applied names. Anything else (no
 * table yet, a migration missing, one this build does not know) goes to the Migrator, which applies or
 * refuses under its lock as usual.
 */
async function upToDate(db: Db): Promise<boolean> {
  const known = Object.keys(await migrationProvider.getMigrations()).sort();
  const exists = await sql<{ t: string | null }>`select to_regclass('kysely_migration')::text as t`.execute(
    db,
  );
  if (!exists.rows[0]?.t) return false;
  const applied = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
  const names = applied.rows.map((r) => r.name).sort();
  return names.length === known.length && names.every((n, i) => n === known[i]);
}

export async function migrate(db: Db): Promise<string[]> {
  if (await upToDate(db)) return [];
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
