/**
 * The verdict log: the buffered writer (message-writer.ts), which never blocks or fails the SMTP path, and
 * the queries the API reads it with (message-queries.ts), as one MessageLog.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import type { Db } from './db.js';
import { createMessageQueries } from './message-queries.js';
import { createMessageWriter, type MessageLogOptions, type MessageWriter } from './message-writer.js';
import type { MessageLog } from './types.js';

export type BufferedMessageLog = MessageLog & MessageWriter;

export function createMessageLog(
  db: Db,
  config: Config,
  deps: { logger: Logger; metrics: Metrics },
  options: MessageLogOptions = {},
): BufferedMessageLog {
  const writer = createMessageWriter(db, config, deps, options);
  const queries = createMessageQueries(db);
  return {
    get pending() {
      return writer.pending;
    },
    get pendingRawBytes() {
      return writer.pendingRawBytes;
    },
    record: (entry) => writer.record(entry),
    flush: () => writer.flush(),
    close: () => writer.close(),
    get: (id) => queries.get(id),
    getRaw: (id) => queries.getRaw(id),
    list: (filter) => queries.list(filter),
  };
}
