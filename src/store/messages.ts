/**
 * The verdict log, written off the hot path: `record()` only appends to a bounded buffer; a timer and the
 * buffer size trigger batched inserts. A slow or absent database never blocks or fails the SMTP path: rows
 * wait in the buffer, and past its bound new rows are dropped and counted. The raw bytes buffered are bounded
 * too: past that budget rows are kept without them. Each outage is logged once.
 */
import { sql } from 'kysely';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import { clampLimit, decodeCursor, encodeCursor } from './cursor.js';
import type { Db } from './db.js';
import type { MessagesTable } from './schema.js';
import { storableJson, storableText, storableTextOrNull } from './text.js';
import type {
  DeliveryStatus,
  MessageFilter,
  MessageLog,
  MessageLogEntry,
  MessageSummary,
  Page,
} from './types.js';

type Row = Omit<MessagesTable, 'top_features' | 'received_at' | 'auth'> & {
  received_at: Date;
  top_features: unknown;
  auth: unknown;
};

const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);

function toSummary(row: Row): MessageSummary {
  return {
    id: row.id,
    receivedAt: new Date(row.received_at),
    sessionId: row.session_id,
    clientIp: row.client_ip,
    clientHelo: row.client_helo,
    mailFrom: row.mail_from,
    rcptTo: row.rcpt_to,
    messageIdHeader: row.message_id_header,
    headerFrom: row.header_from,
    subject: row.subject,
    size: row.size,
    contentHash: row.content_hash,
    score: row.score,
    action: row.action as MessageLogEntry['action'],
    reason: row.reason,
    modelVersion: row.model_version,
    topFeatures: (typeof row.top_features === 'string'
      ? JSON.parse(row.top_features)
      : row.top_features) as MessageSummary['topFeatures'],
    scanMs: row.scan_ms,
    totalMs: row.total_ms,
    status: row.status as DeliveryStatus,
    response: row.response,
    hasRaw: (row as Row & { has_raw?: boolean }).has_raw ?? row.raw !== null,
    auth: (json(row.auth) ?? null) as MessageSummary['auth'],
  };
}

const SUMMARY_COLUMNS = [
  'id',
  'received_at',
  'session_id',
  'client_ip',
  'client_helo',
  'mail_from',
  'rcpt_to',
  'message_id_header',
  'header_from',
  'subject',
  'size',
  'content_hash',
  'score',
  'action',
  'reason',
  'model_version',
  'top_features',
  'scan_ms',
  'total_ms',
  'status',
  'response',
  'auth',
] as const;

/** A log entry as a `messages` row. */
export function toRow(e: MessageLogEntry) {
  return {
    id: e.id,
    received_at: e.receivedAt,
    session_id: storableText(e.sessionId),
    client_ip: storableTextOrNull(e.clientIp),
    client_helo: storableTextOrNull(e.clientHelo),
    mail_from: storableText(e.mailFrom),
    rcpt_to: e.rcptTo.map(storableText),
    message_id_header: storableTextOrNull(e.messageIdHeader),
    header_from: storableTextOrNull(e.headerFrom),
    subject: storableTextOrNull(e.subject),
    size: e.size,
    content_hash: e.contentHash,
    score: e.score,
    action: e.action,
    reason: storableText(e.reason),
    model_version: e.modelVersion,
    top_features: storableJson(e.topFeatures),
    scan_ms: e.scanMs,
    total_ms: e.totalMs,
    status: e.status,
    response: storableTextOrNull(e.response),
    raw: e.raw,
    auth: e.auth ? storableJson(e.auth) : null,
  };
}

/** Raw bytes in one batched insert, at most: a statement's parameters must stay well under Postgres's 1 GB
 * message limit, and 500 rows of large mail could otherwise exceed it and block the log on one batch. */
export const MAX_BATCH_RAW_BYTES = 64 * 1024 * 1024;

/** The rows to write next from `start`: up to `flushRows` rows and `MAX_BATCH_RAW_BYTES` of raw bytes
 * (always at least one row). */
export function nextBatch(
  buffer: MessageLogEntry[],
  flushRows: number,
  start = 0,
  maxRawBytes = MAX_BATCH_RAW_BYTES,
): MessageLogEntry[] {
  let bytes = 0;
  let n = 0;
  for (let i = start; i < buffer.length; i++) {
    if (n >= flushRows) break;
    bytes += (buffer[i] as MessageLogEntry).raw?.length ?? 0;
    if (n > 0 && bytes > maxRawBytes) break;
    n++;
  }
  return buffer.slice(start, start + n);
}

/** Whether Postgres refused a statement for what is in its rows (SQLSTATE classes 22 data exception, 23
 * integrity violation, 54 program limit such as an index row too large), so that writing the same rows again
 * fails again, as opposed to the database being unreachable or busy. */
export function isRowError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23|54)/.test(code);
}

/** Batches written at once, each on its own pooled connection: Postgres inserts them in parallel. */
const CONCURRENT_BATCHES = 2;

export interface BufferedMessageLog extends MessageLog {
  /** Rows waiting to be written. */
  readonly pending: number;
  /** Raw bytes those rows hold (at most logBuffer.maxRawBytes). */
  readonly pendingRawBytes: number;
  close(): Promise<void>;
}

export interface MessageLogOptions {
  /** Rows per insert at most, below `logBuffer.flushRows`: the embedded PGlite executes on the event loop,
   * so a 500-row insert held SMTP for ~0.2–0.4 s where 50 rows hold it for tens of milliseconds. */
  maxBatchRows?: number;
  /** Raw bytes per insert at most, below MAX_BATCH_RAW_BYTES, for the same reason: 50 rows of 50 KiB mail
   * held the embedded database's thread for ~100 ms. */
  maxBatchRawBytes?: number;
}

export function createMessageLog(
  db: Db,
  config: Config,
  deps: { logger: Logger; metrics: Metrics },
  options: MessageLogOptions = {},
): BufferedMessageLog {
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
  const idle: (() => void)[] = [];
  let outage = false;
  let droppedInOutage = 0;
  let closed = false;

  const gauge = () => deps.metrics.logBufferRows.set(buffer.length + inFlight);

  async function writeBatch(batch: MessageLogEntry[]): Promise<void> {
    // One statement with one array parameter per column (unnest), not one parameter per value: a
    // 500-row batch is 24 parameters instead of 11 000, which would cost more than the insert itself.
    // The raw bytes are not a `bytea[]`: node-postgres sends an array as a text literal, so every byte
    // became two hex characters built on this thread (~50 µs per 5 KB message, ~25 ms of blocked event
    // loop per batch) and parsed again by the server. Instead they go as ONE `bytea` parameter, all
    // messages back to back, which node-postgres sends in binary as it is; each row takes its slice by
    // offset and length (a null length keeps a null raw).
    const rows = batch.map(toRow);
    const col = <K extends keyof ReturnType<typeof toRow>>(key: K) => rows.map((r) => r[key]);
    const rawOffsets: number[] = [];
    const rawLengths: (number | null)[] = [];
    const rawParts: Buffer[] = [];
    let offset = 1; // substring() counts from 1
    for (const r of rows) {
      rawOffsets.push(offset);
      rawLengths.push(r.raw ? r.raw.length : null);
      if (r.raw) {
        rawParts.push(r.raw);
        offset += r.raw.length;
      }
    }
    const rawBytes = Buffer.concat(rawParts, offset - 1);
    await sql`
      insert into messages (id, received_at, session_id, client_ip, client_helo, mail_from, rcpt_to,
        message_id_header, header_from, subject, size, content_hash, score, action, reason, model_version,
        top_features, scan_ms, total_ms, status, response, raw, auth)
      select id, received_at, session_id, client_ip, client_helo, mail_from,
        array(select jsonb_array_elements_text(rcpt)), message_id_header, header_from, subject, size,
        content_hash, score, action, reason, model_version, top_features, scan_ms, total_ms, status, response,
        substring(${rawBytes}::bytea from raw_offset for raw_length), auth
      from unnest(
        ${col('id')}::uuid[], ${col('received_at')}::timestamptz[], ${col('session_id')}::text[],
        ${col('client_ip')}::text[], ${col('client_helo')}::text[], ${col('mail_from')}::text[],
        ${rows.map((r) => JSON.stringify(r.rcpt_to))}::jsonb[], ${col('message_id_header')}::text[],
        ${col('header_from')}::text[], ${col('subject')}::text[], ${col('size')}::integer[],
        ${col('content_hash')}::text[], ${col('score')}::double precision[], ${col('action')}::text[],
        ${col('reason')}::text[], ${col('model_version')}::text[], ${col('top_features')}::jsonb[],
        ${col('scan_ms')}::double precision[], ${col('total_ms')}::double precision[], ${col('status')}::text[],
        ${col('response')}::text[], ${rawOffsets}::integer[], ${rawLengths}::integer[], ${col('auth')}::jsonb[]
      ) as t(id, received_at, session_id, client_ip, client_helo, mail_from, rcpt, message_id_header,
        header_from, subject, size, content_hash, score, action, reason, model_version, top_features, scan_ms,
        total_ms, status, response, raw_offset, raw_length, auth)
      -- A row retried after an ambiguous failure must not fail the whole batch.
      on conflict (id) do nothing`.execute(db);
  }

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
      await writeBatch(batch);
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

  // A writer takes the next batch off the front of the buffer, writes it, and goes on while rows wait.
  // Up to CONCURRENT_BATCHES writers run side by side, each on its own pooled connection, and each starts
  // its next batch as soon as its last one is written. (Batches started in pairs and awaited together
  // left Postgres idle while Node built the next pair, and one connection idle while the other finished.)
  async function writer(): Promise<void> {
    while (buffer.length > 0 && !halted) {
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
      // The embedded PGlite runs queries on this thread and resolves them as microtasks: without a turn of
      // the event loop here, a whole backlog would be written while SMTP and timers starve for seconds.
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
        if (writers === 0) for (const resolve of idle.splice(0)) resolve();
      });
    }
  }

  /** Writes what waits now and what arrives meanwhile; resolves once no writer runs (all written, or a
   * batch failed and the rest waits for the next attempt). */
  function flush(): Promise<void> {
    halted = false;
    startWriters();
    if (writers === 0) return Promise.resolve();
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
    async get(id) {
      const row = await db
        .selectFrom('messages')
        .select([...SUMMARY_COLUMNS, sql<boolean>`raw is not null`.as('has_raw')])
        .where('id', '=', id)
        .executeTakeFirst();
      return row ? toSummary(row as unknown as Row) : null;
    },
    async getRaw(id) {
      const row = await db.selectFrom('messages').select('raw').where('id', '=', id).executeTakeFirst();
      return row?.raw ? Buffer.from(row.raw) : null;
    },
    async list(filter: MessageFilter): Promise<Page<MessageSummary>> {
      const limit = clampLimit(filter.limit);
      let q = db
        .selectFrom('messages')
        .select([...SUMMARY_COLUMNS, sql<boolean>`raw is not null`.as('has_raw')]);
      if (filter.action) q = q.where('action', '=', filter.action);
      if (filter.status) q = q.where('status', '=', filter.status);
      if (filter.sender) q = q.where(sql`lower(mail_from)`, '=', filter.sender.toLowerCase());
      if (filter.recipient) q = q.where(sql`rcpt_to`, '@>', sql`array[${filter.recipient}]::text[]`);
      if (filter.subject)
        q = q.where(sql`lower(subject)`, 'like', `%${escapeLike(filter.subject.toLowerCase())}%`);
      if (filter.contentHash) q = q.where('content_hash', '=', filter.contentHash);
      if (filter.minScore !== undefined) q = q.where('score', '>=', filter.minScore);
      if (filter.maxScore !== undefined) q = q.where('score', '<=', filter.maxScore);
      if (filter.since) q = q.where('received_at', '>=', filter.since);
      if (filter.until) q = q.where('received_at', '<', filter.until);
      if (filter.cursor) {
        const c = decodeCursor(filter.cursor);
        q = q.where((eb) =>
          eb.or([
            eb('received_at', '<', new Date(c.at)),
            eb.and([eb('received_at', '=', new Date(c.at)), eb('id', '<', c.id)]),
          ]),
        );
      }
      const rows = (await q
        .orderBy('received_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit + 1)
        .execute()) as unknown as Row[];
      const items = rows.slice(0, limit).map(toSummary);
      const last = items[items.length - 1];
      return {
        items,
        nextCursor: rows.length > limit && last ? encodeCursor(last.receivedAt, last.id) : null,
      };
    },
  };
}

export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
