/**
 * The verdict log, written off the hot path: `record()` only appends to a bounded buffer; a timer and the
 * buffer size trigger batched inserts. A slow or absent database never blocks or fails the SMTP path: rows
 * wait in the buffer, and past its bound new rows are dropped and counted. The raw bytes buffered are bounded
 * too: past that budget rows are kept without them. Each outage is logged once.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import type { Db } from './db.js';
import { insertMessages, isRowError, nextBatch } from './message-insert.js';
import type { MessageLog, MessageLogEntry } from './types.js';

/** Batches written at once, each on its own pooled connection: Postgres inserts them in parallel. */
const CONCURRENT_BATCHES = 2;

export interface MessageWriter extends Pick<MessageLog, 'record' | 'flush'> {
  /** Rows waiting to be written. */
  readonly pending: number;
  /** Raw bytes those rows hold (at most logBuffer.maxRawBytes). */
  readonly pendingRawBytes: number;
  close(): Promise<void>;
}

export interface MessageLogOptions {
  /** Rows per insert at most, below `logBuffer.flushRows`: the embedded PGlite has one connection, so every
   * other query (the API's, a quarantine's, a model's) waits behind a batch; 500 rows take it for ~0.2–0.4 s
   * where 50 rows take tens of milliseconds. */
  maxBatchRows?: number;
  /** Raw bytes per insert at most, below MAX_BATCH_RAW_BYTES, for the same reason: 50 rows of 50 KiB mail
   * held the embedded database's thread for ~100 ms. */
  maxBatchRawBytes?: number;
}

export function createMessageWriter(
  db: Db,
  config: Config,
  deps: { logger: Logger; metrics: Metrics },
  options: MessageLogOptions = {},
): MessageWriter {
  const { maxRows, maxRawBytes, flushRows: configuredRows, flushIntervalMs } = config.logBuffer;
  const flushRows = Math.min(configuredRows, options.maxBatchRows ?? configuredRows);
  let buffer: MessageLogEntry[] = [];
  // Rows taken by a writer but not yet written: still pending, and still counted against `maxRows`.
  let inFlight = 0;
  // Raw bytes held by buffered and in-flight rows: bounded by maxRawBytes, since a row count alone lets an
  // outage with large mail grow memory by gigabytes.
  let rawHeld = 0;
  const rawOf = (rows: MessageLogEntry[]) => rows.reduce((n, r) => n + (r.raw?.length ?? 0), 0);
  let writers = 0;
  // Set by a failed batch: writers stop after their current batch until the next timer tick or flush().
  let halted = false;
  // Set by flush() (and so by the timer) until no writer runs: writers then take partial batches too.
  let draining = false;
  const idle: (() => void)[] = [];
  let outage = false;
  let droppedInOutage = 0;
  let closed = false;

  const gauge = () => deps.metrics.logBufferRows.set(buffer.length + inFlight);

  function failed(err: unknown): void {
    deps.metrics.logFlushErrors.inc();
    if (outage) return;
    outage = true;
    deps.logger.error(
      { event: 'LOG_FLUSH_FAILED', err: (err as Error).message, pending: buffer.length + inFlight },
      'verdict log cannot be written; buffering',
    );
  }

  function recovered(): void {
    if (!outage) return;
    outage = false;
    deps.logger.info(
      { event: 'LOG_FLUSH_RECOVERED', dropped: droppedInOutage },
      'verdict log writes recovered',
    );
    droppedInOutage = 0;
  }

  /** Writes a batch; when Postgres refuses rows for their content, writes the halves apart down to the row
   * at fault, which is dropped, counted and logged with its id: one bad row must not hold back the log
   * forever (the whole batch would fail again at every retry, and the buffer fill up behind it). */
  async function writeIsolating(batch: MessageLogEntry[]): Promise<void> {
    try {
      await insertMessages(db, batch);
    } catch (err) {
      if (!isRowError(err)) throw err;
      const only = batch[0];
      if (batch.length === 1 && only) {
        deps.metrics.logRowsDropped.inc({ reason: 'refused' });
        deps.logger.error(
          { event: 'LOG_ROW_REFUSED', messageId: only.id, err: (err as Error).message },
          'verdict log row refused by the database; dropped',
        );
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await writeIsolating(batch.slice(0, half));
      await writeIsolating(batch.slice(half));
    }
  }

  // A writer takes the next batch off the front of the buffer, writes it, and goes on while a full batch
  // waits (or, draining, while any row does). Up to CONCURRENT_BATCHES writers run side by side, each on its
  // own pooled connection, and each starts its next batch as soon as its last one is written. (Batches
  // started in pairs and awaited together left Postgres idle while Node built the next pair, and one
  // connection idle while the other finished.) The rows that arrive while a batch is written wait for the
  // next full batch or the timer, so under steady load every batch is full and its fixed cost (about 0.8 ms
  // in the embedded database) is shared by all its rows.
  async function writer(): Promise<void> {
    while (buffer.length > 0 && !halted && (draining || buffer.length >= flushRows)) {
      const batch = nextBatch(buffer, flushRows, 0, options.maxBatchRawBytes);
      buffer = buffer.slice(batch.length);
      inFlight += batch.length;
      try {
        await writeIsolating(batch);
        inFlight -= batch.length;
        rawHeld -= rawOf(batch);
        recovered();
      } catch (err) {
        inFlight -= batch.length;
        // Back to the front, so the next attempt writes it first.
        buffer = batch.concat(buffer);
        halted = true;
        failed(err);
      }
      gauge();
      // A turn of the event loop between batches: a client that resolves queries as microtasks (PGlite
      // in-process) would otherwise write a whole backlog while SMTP and timers starve.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Starts writers for the rows waiting: one for any rows, more only while a full batch waits for each
   * (a second writer taking the few rows left would only split batches). */
  function startWriters(): void {
    while (
      writers < CONCURRENT_BATCHES &&
      !halted &&
      buffer.length > 0 &&
      (writers === 0 || buffer.length >= flushRows)
    ) {
      writers++;
      void writer().finally(() => {
        writers--;
        if (writers === 0) {
          draining = false;
          for (const resolve of idle.splice(0)) resolve();
        }
      });
    }
  }

  /** Writes what waits now and what arrives meanwhile; resolves once no writer runs (all written, or a
   * batch failed and the rest waits for the next attempt). */
  function flush(): Promise<void> {
    halted = false;
    draining = true;
    startWriters();
    if (writers === 0) {
      draining = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => idle.push(resolve));
  }

  const timer = setInterval(() => {
    if (buffer.length > 0) void flush();
  }, flushIntervalMs);
  timer.unref();

  return {
    get pending() {
      return buffer.length + inFlight;
    },
    get pendingRawBytes() {
      return rawHeld;
    },
    record(entry) {
      if (closed || buffer.length + inFlight >= maxRows) {
        deps.metrics.logRowsDropped.inc({ reason: 'buffer_full' });
        if (droppedInOutage++ === 0) {
          deps.logger.error(
            { event: 'LOG_BUFFER_FULL', messageId: entry.id, maxRows },
            'verdict log buffer full; dropping rows',
          );
        }
        return;
      }
      let row = entry;
      if (entry.raw && rawHeld + entry.raw.length > maxRawBytes) {
        // The verdict matters more than the bytes kept for later learning: keep the row, drop the raw.
        row = { ...entry, raw: null };
        deps.metrics.logRawDropped.inc();
      }
      rawHeld += row.raw?.length ?? 0;
      buffer.push(row);
      gauge();
      // A full batch is written at once (the timer writes the rest); after a failure, only the timer retries.
      if (buffer.length >= flushRows) startWriters();
    },
    flush,
    async close() {
      clearInterval(timer);
      await this.flush();
      closed = true;
    },
  };
}
