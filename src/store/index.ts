/** Opens everything MailSentra keeps: migrates, wires the stores, starts the retention job. */
import { sql } from 'kysely';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import { createAuditLog } from './audit.js';
import { type Db, firstQueryError, migrate, type OpenedDb, openDb } from './db.js';
import { createDigestStore } from './digest.js';
import { createFeedbackStore } from './feedback.js';
import { createKeyStore } from './keys.js';
import { createSenderListStore } from './lists.js';
import { createMessageLog } from './messages.js';
import { createModelStore } from './models.js';
import { createQuarantineStore } from './quarantine.js';
import { type PurgeRun, runPurge, startPurgeJob } from './retention.js';
import { createSessionStore } from './sessions.js';
import { createStatsStore } from './stats.js';
import type { Storage } from './types.js';

export interface OpenStorageOptions {
  /** PGlite location when no database URL is configured (`memory://` in tests). */
  pglite?: string;
  /** The database, already being opened by the caller (`serve` starts it while the modules load). */
  opened?: Promise<OpenedDb>;
}

export type OpenedStorage = Storage & {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** The embedded data directory this process holds the lock of (see dir-lock.ts), else null. */
  lockDir: string | null;
  /** Settles if the embedded database stops on its own (see OpenedDb.failed). */
  failed: Promise<Error>;
  /** One run of the retention job, as its timer runs it (`now` moves the cut-offs in tests). */
  purge(now?: Date): Promise<PurgeRun | null>;
};

export async function openStorage(
  config: Config,
  deps: { logger: Logger; metrics: Metrics },
  options: OpenStorageOptions = {},
): Promise<OpenedStorage> {
  const opened = await (options.opened ?? openDb(config, options.pglite));
  const { db } = opened;
  try {
    await migrate(db);
  } catch (err) {
    await opened.close();
    // The first query: for a server, where an unreachable one or a wrong setting shows.
    throw firstQueryError(err, config.database.url);
  }
  // Embedded: small inserts, since PGlite has one connection (see MessageLogOptions).
  const messages = createMessageLog(
    db,
    config,
    deps,
    opened.kind === 'pglite' ? { maxBatchRows: 50, maxBatchRawBytes: 512 * 1024 } : {},
  );
  const refreshQuarantineGauge = () => {
    quarantine
      .countHeld()
      .then((n) => deps.metrics.quarantineMessages.set(n))
      .catch(() => {});
  };
  const quarantine = createQuarantineStore(db, refreshQuarantineGauge);
  refreshQuarantineGauge();
  const purge = (now?: Date) => runPurge(db, config, { vacuum: opened.kind === 'pglite' }, now);
  const stopPurge = startPurgeJob(purge, config, deps.logger, refreshQuarantineGauge);
  return {
    db,
    kind: opened.kind,
    lockDir: opened.lockDir,
    failed: opened.failed,
    purge,
    messages,
    quarantine,
    feedback: createFeedbackStore(db),
    models: createModelStore(db),
    keys: createKeyStore(db),
    audit: createAuditLog(db),
    lists: createSenderListStore(db),
    sessions: createSessionStore(db),
    digest: createDigestStore(db),
    stats: createStatsStore(db),
    async ping() {
      try {
        await sql`select 1`.execute(db);
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      stopPurge();
      await messages.close();
      await opened.close();
    },
  };
}
