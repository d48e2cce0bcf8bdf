/**
 * The purge job: verdict-log rows past `retention.logDays`, raw bytes of logged mail past `rawDays`, and
 * quarantine past its expiry, removed in batches so a large backlog never holds long locks.
 */
import { sql } from 'kysely';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/log.js';
import type { Db } from './db.js';

const BATCH = 1000;
const DAY_MS = 86_400_000;

export interface PurgeResult {
  messages: number;
  raw: number;
  quarantine: number;
  /** Releases claimed and never completed (the process died mid-relay), put back to held. */
  stuckReleases: number;
}

/** A release claimed longer ago than this was interrupted: relays time out well within it. */
const STUCK_RELEASE_MS = 15 * 60_000;

// Row counts come from `returning`: the PGlite dialect does not report affected rows.
async function inBatches(step: () => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await step();
    total += n;
    if (n < BATCH) return total;
  }
}

export async function purgeOnce(db: Db, config: Config, now = new Date()): Promise<PurgeResult> {
  const { logDays, rawDays } = config.retention;
  const logCutoff = new Date(now.getTime() - logDays * DAY_MS);
  const rawCutoff = new Date(now.getTime() - rawDays * DAY_MS);
  const messages = await inBatches(async () => {
    const r = await sql`delete from messages
      where id in (select id from messages where received_at < ${logCutoff} limit ${BATCH})
      returning id`.execute(db);
    return r.rows.length;
  });
  const raw = await inBatches(async () => {
    const r = await sql`update messages set raw = null
      where id in (select id from messages where raw is not null and received_at < ${rawCutoff} limit ${BATCH})
      returning id`.execute(db);
    return r.rows.length;
  });
  // Expired stored messages go with all their recipient rows (on delete cascade).
  const quarantine = await inBatches(async () => {
    const r = await sql`delete from quarantine_messages
      where id in (select message_id from quarantine group by message_id having max(expires_at) < ${now} limit ${BATCH})
      returning id`.execute(db);
    return r.rows.length;
  });
  // Put back, not dropped: the message may have reached the next hop before the process died, and a second
  // delivery is better than a lost one.
  const stuck = await sql`update quarantine set state = 'held'
    where state = 'releasing' and acted_at < ${new Date(now.getTime() - STUCK_RELEASE_MS)}
    returning id`.execute(db);
  return { messages, raw, quarantine, stuckReleases: stuck.rows.length };
}

/** Arbitrary, fixed: the advisory-lock key for "a retention purge is running". */
export const PURGE_LOCK = 0x6d73_7072; // "mspr"

/**
 * `purgeOnce` unless another process holds the purge lock (then null): every process of a cluster and every
 * instance runs the job, and without the lock they all scanned for the same rows at the same moment and
 * queued on each other's row locks. The lock is a session lock, so the purge runs on the connection that
 * holds it.
 */
export async function purgeIfFree(db: Db, config: Config, now = new Date()): Promise<PurgeResult | null> {
  return db.connection().execute(async (conn) => {
    const { rows } = await sql<{
      locked: boolean;
    }>`select pg_try_advisory_lock(${PURGE_LOCK}) as locked`.execute(conn);
    if (!rows[0]?.locked) return null;
    try {
      return await purgeOnce(conn, config, now);
    } finally {
      await sql`select pg_advisory_unlock(${PURGE_LOCK})`.execute(conn);
    }
  });
}

export interface PurgeRun extends PurgeResult {
  /** How long the VACUUM after the purge took, when one ran. */
  vacuumMs?: number;
  /** Why that VACUUM failed: the purge itself stands, and the next run tries again. */
  vacuumError?: string;
}

/**
 * One run of the purge job: `purgeIfFree`, then, when `vacuum` is set and the run removed or emptied rows,
 * VACUUM. The embedded store needs it: PGlite runs Postgres as a single backend, without the autovacuum a
 * server runs, so without it the rows a purge deletes (and the old versions of rows whose raw bytes it
 * drops) keep their space for good, and the data directory grows by each day's mail whatever the
 * retention. A plain VACUUM (not FULL, which rewrites under an exclusive lock) makes that space reusable by
 * new rows; run over the whole database, it also freezes old transaction ids as autovacuum would. A
 * server's autovacuum does both there, so the job leaves Postgres to it.
 */
export async function runPurge(
  db: Db,
  config: Config,
  options: { vacuum: boolean },
  now = new Date(),
): Promise<PurgeRun | null> {
  const result = await purgeIfFree(db, config, now);
  if (!result || !options.vacuum || result.messages + result.raw + result.quarantine === 0) return result;
  const started = performance.now();
  try {
    await sql`vacuum`.execute(db);
  } catch (err) {
    return { ...result, vacuumError: (err as Error).message };
  }
  return { ...result, vacuumMs: Math.round(performance.now() - started) };
}

export function startPurgeJob(
  run: () => Promise<PurgeRun | null>,
  config: Config,
  logger: Logger,
  afterRun: () => void,
): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    run()
      .then((r) => {
        if (r?.vacuumError)
          logger.warn({ event: 'RETENTION_PURGED', ...r }, 'retention purge; VACUUM failed');
        else if (r && r.messages + r.raw + r.quarantine + r.stuckReleases > 0)
          logger.info({ event: 'RETENTION_PURGED', ...r }, 'retention purge');
        afterRun();
      })
      .catch((err: Error) =>
        logger.warn({ event: 'RETENTION_FAILED', err: err.message }, 'retention purge failed'),
      )
      .finally(() => {
        running = false;
      });
  }, config.retention.purgeIntervalMinutes * 60_000);
  timer.unref();
  return () => clearInterval(timer);
}
