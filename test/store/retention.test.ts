/**
 * The retention purge across processes: every process of a cluster (and every instance) runs the job, and
 * only one purges at a time — the others skip their turn rather than queue on the same rows. On the embedded
 * store, which has no autovacuum, the job makes the purged rows' space reusable itself.
 */
import { randomBytes } from 'node:crypto';
import { type KyselyPlugin, sql } from 'kysely';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { OpenedStorage } from '../../src/store/index.js';
import { PURGE_LOCK, purgeIfFree, runPurge } from '../../src/store/retention.js';
import type { MessageLogEntry } from '../../src/store/types.js';
import { freshDatabaseWithClient, openTestStorage, storageOn } from '../helpers/db.js';
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

  it('leaves reclaiming space to the server: a run does not VACUUM', async () => {
    storage.messages.record(oldRow());
    await storage.messages.flush();
    const run = await storage.purge();
    expect(run?.messages).toBe(1);
    expect(run?.vacuumMs).toBeUndefined();
  });

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

describe('retention purge on the embedded store', () => {
  const opened = storageOn('pglite');
  const DAY = 86_400_000;
  // Raw bytes that do not compress, so each row takes the room a logged message takes.
  const rows = (n: number, receivedAt: Date) =>
    Array.from({ length: n }, () => logEntry({ receivedAt, raw: randomBytes(3000) }));
  const logBytes = async () => {
    const { rows } = await sql<{ bytes: string }>`
      select pg_relation_size('messages')::text as bytes`.execute(opened.storage.db);
    return Number(rows[0]?.bytes);
  };

  it('makes the space of purged rows reusable, so the log does not outgrow its retention', async () => {
    const { storage } = opened;
    // A day past retention.logDays (deleted) and one past rawDays (raw bytes dropped).
    for (const e of [
      ...rows(300, new Date(Date.now() - 40 * DAY)),
      ...rows(300, new Date(Date.now() - 8 * DAY)),
    ])
      storage.messages.record(e);
    await storage.messages.flush();
    const before = await logBytes();

    const run = await storage.purge();
    expect(run).toMatchObject({ messages: 300, raw: 300 });
    expect(run?.vacuumMs).toBeGreaterThanOrEqual(0);

    // A new day of mail as large as the first: it fills the freed space. Without the VACUUM, PGlite (no
    // autovacuum) appends it, and the log takes about twice the room.
    for (const e of rows(300, new Date())) storage.messages.record(e);
    await storage.messages.flush();
    expect(await logBytes()).toBeLessThan(before * 1.25);
  });

  it('keeps what it purged when the VACUUM fails, and says why', async () => {
    const { storage } = opened;
    const failVacuum: KyselyPlugin = {
      transformQuery: ({ node }) => {
        if (node.kind === 'RawNode' && node.sqlFragments.join('').trim() === 'vacuum')
          throw new Error('could not extend file: No space left on device');
        return node;
      },
      transformResult: async ({ result }) => result,
    };
    const old = rows(1, new Date(Date.now() - 40 * DAY))[0] as MessageLogEntry;
    storage.messages.record(old);
    await storage.messages.flush();
    const run = await runPurge(storage.db.withPlugin(failVacuum), loadConfig({ file: null, env: {} }), {
      vacuum: true,
    });
    expect(run).toMatchObject({ messages: 1, vacuumError: 'could not extend file: No space left on device' });
    expect(run?.vacuumMs).toBeUndefined();
    expect(await storage.messages.get(old.id)).toBeNull();
  });

  it('runs no VACUUM when a run purged nothing', async () => {
    const run = await opened.storage.purge();
    expect(run).toMatchObject({ messages: 0, raw: 0, quarantine: 0 });
    expect(run?.vacuumMs).toBeUndefined();
  });
});
