/**
 * The retention purge across processes: every process of a cluster (and every instance) runs the job, and
 * only one purges at a time — the others skip their turn rather than queue on the same rows.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { OpenedStorage } from '../../src/store/index.js';
import { PURGE_LOCK, purgeIfFree } from '../../src/store/retention.js';
import { freshDatabaseWithClient, openTestStorage } from '../helpers/db.js';
import { logEntry } from '../helpers/log-entry.js';

describe.skipIf(!process.env.DATABASE_URL)('retention purge on a shared Postgres', () => {
  let db: Awaited<ReturnType<typeof freshDatabaseWithClient>>;
  let storage: OpenedStorage;
  let other: pg.Client;
  // The default retention days: what the purge reads from the config.
  const config = loadConfig({ file: null, env: {} });

  beforeAll(async () => {
    db = await freshDatabaseWithClient();
    other = db.client;
    storage = await openTestStorage(db.url);
  });
  afterAll(async () => {
    await storage?.close();
    await db?.drop();
  });

  const oldRow = () => logEntry({ receivedAt: new Date(Date.now() - 400 * 86_400_000), subject: 'old' });

  it('skips while another process purges, and purges once the lock is free', async () => {
    const row = oldRow();
    storage.messages.record(row);
    await storage.messages.flush();
    // Another process (here: another connection) is purging: it holds the purge lock.
    const key = PURGE_LOCK;
    await other.query('select pg_advisory_lock($1)', [key]);
    expect(await purgeIfFree(storage.db, config)).toBeNull();
    expect(await storage.messages.get(row.id)).not.toBeNull();

    await other.query('select pg_advisory_unlock($1)', [key]);
    const result = await purgeIfFree(storage.db, config);
    expect(result?.messages).toBe(1);
    expect(await storage.messages.get(row.id)).toBeNull();
    // The lock is given back after the run: the other process can take it at once.
    expect((await other.query('select pg_try_advisory_lock($1) as ok', [key])).rows[0].ok).toBe(true);
    await other.query('select pg_advisory_unlock($1)', [key]);
  });
});
