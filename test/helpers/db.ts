/**
 * Databases for tests: a fresh, uniquely named database on the real Postgres (DATABASE_URL) per test file,
 * dropped afterwards; and the list of backends a storage suite runs against (PGlite always, Postgres when
 * DATABASE_URL is set — .ci/run sets it and fails if anything was skipped).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/observability/log.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { type OpenedStorage, openStorage } from '../../src/store/index.js';

export async function freshDatabaseUrl(
  base = process.env.DATABASE_URL,
): Promise<{ url: string; drop(): Promise<void> }> {
  if (!base) throw new Error('DATABASE_URL is not set');
  const name = `mailsentra_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export type Backend = 'pglite' | 'postgres';

export const backends: Backend[] = process.env.DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

/** Storage for a test: the real Postgres at `url`, or an in-memory PGlite when it is null. */
export async function openTestStorage(url: string | null): Promise<OpenedStorage> {
  const config = loadConfig({ file: null, env: {}, overrides: { database: { url } } });
  return openStorage(
    config,
    { logger: silentLogger(), metrics: createMetrics({ defaultMetrics: false }) },
    { pglite: 'memory://' },
  );
}

/** A fresh database with a client of the test's own on it (to lock tables, or look behind the service). */
export async function freshDatabaseWithClient(): Promise<{
  url: string;
  client: pg.Client;
  drop(): Promise<void>;
}> {
  const db = await freshDatabaseUrl();
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  return {
    url: db.url,
    client,
    async drop() {
      await client.end();
      await db.drop();
    },
  };
}

/**
 * The storage of a `describe` block on `backend`: a fresh database on the real Postgres, in-memory PGlite
 * otherwise; opened before the block's tests, closed (and the database dropped) after them.
 */
export function storageOn(backend: Backend): { readonly storage: OpenedStorage } {
  let storage: OpenedStorage | null = null;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    let url: string | undefined;
    if (backend === 'postgres') ({ url, drop } = await freshDatabaseUrl());
    storage = await openTestStorage(url ?? null);
  });
  afterAll(async () => {
    await storage?.close();
    await drop?.();
  });
  return {
    get storage() {
      if (!storage) throw new Error('storage is opened in beforeAll');
      return storage;
    },
  };
}
