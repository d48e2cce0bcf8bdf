/**
 * The verdict log: the buffered writer (message-writer.ts), which never blocks or fails the SMTP path, and
 * the queries the API reads it with (message-queries.ts), as one MessageLog.
 */
import { createMessageQueries } from './message-queries.js';
import { createMessageWriter, type MessageWriter } from './message-writer.js';
import type { MessageLog } from './types.js';

export type BufferedMessageLog = MessageLog & MessageWriter;

/** Takes what the writer takes; the queries read the same database. */
export function createMessageLog(...writerArgs: Parameters<typeof createMessageWriter>): BufferedMessageLog {
  const writer = createMessageWriter(...writerArgs);
  const queries = createMessageQueries(writerArgs[0]);
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
