/**
 * The verdict log's one write: a batch of entries in one INSERT statement, and what decides how rows are
 * batched and whether a failed statement failed for its rows' content.
 */
import { sql } from 'kysely';
import type { Db } from './db.js';
import { storableJson, storableText, storableTextOrNull } from './text.js';
import type { MessageLogEntry } from './types.js';

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

export async function insertMessages(db: Db, batch: MessageLogEntry[]): Promise<void> {
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
