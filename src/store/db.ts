/**
 * The database handle: Kysely over a `pg` pool when `database.url` is set, else embedded PGlite under
 * `<dataDir>/pglite` (or in memory for `memory://`). Migrations run through Kysely's Migrator.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Config } from '../config/schema.js';
import { migrationProvider } from './migrations/index.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

export interface OpenedDb {
  db: Db;
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

const BYTEA_OID = 17;

// PGlite exchanges bytea as hex text, and its own conversions go through a JS array of one string (or one
// parseInt) per byte: ~1 ms per 5 KB message, on the thread that also runs SMTP (PGlite is in-process), and
// about 0.9 s for a 4 MB model artefact. Buffer's hex codec does the same in native code.
function byteaToText(value: unknown): string {
  if (!(value instanceof Uint8Array)) throw new TypeError('bytea parameter must be a Uint8Array');
  return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
}

function byteaFromText(text: string): Buffer {
  return Buffer.from(text.slice(2), 'hex');
}

/** `pglite` may be `memory://` (tests) or a directory; default `<dataDir>/pglite`. */
export async function openDb(config: Config, pglite?: string): Promise<OpenedDb> {
  if (config.database.url) {
    const pool = new pg.Pool({ connectionString: config.database.url, max: config.database.poolSize });
    // An idle client's error (server restart) must not crash the process; the next query reconnects.
    pool.on('error', () => {});
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, kind: 'postgres', close: () => db.destroy() };
  }
  const dir = pglite ?? path.resolve(config.dataDir, 'pglite');
  if (!dir.startsWith('memory://')) mkdirSync(dir, { recursive: true });
  // Imported only here: its entry module also loads a code generator we do not need on the Postgres path.
  const { KyselyPGlite } = await import('kysely-pglite');
  // pg_trgm backs the subject search index (migration 0005), as on a real server with contrib.
  const { pg_trgm } = await import('@electric-sql/pglite/contrib/pg_trgm');
  const { dialect, client } = await KyselyPGlite.create(dir, {
    extensions: { pg_trgm },
    serializers: { [BYTEA_OID]: byteaToText },
    parsers: { [BYTEA_OID]: byteaFromText },
  });
  const db = new Kysely<Database>({ dialect });
  return {
    db,
    kind: 'pglite',
    close: async () => {
      await db.destroy();
      if (!client.closed) await client.close();
    },
  };
}

export async function migrate(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
