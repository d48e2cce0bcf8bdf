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
}

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
  return { messages, raw, quarantine };
}

export function startPurgeJob(db: Db, config: Config, logger: Logger, afterRun: () => void): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    purgeOnce(db, config)
      .then((r) => {
        if (r.messages + r.raw + r.quarantine > 0)
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
