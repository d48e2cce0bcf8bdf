/** The verdict log read back: one entry, its raw bytes, and filtered pages newest first. */
import { type Selectable, sql } from 'kysely';
import type { Db } from './db.js';
import { containsIgnoringCase, equalsIgnoringCase, pageNewestFirst } from './listing.js';
import type { MessagesTable } from './schema.js';
import { parseJson } from './text.js';
import type { MessageFilter, MessageLog, MessageSummary, Page } from './types.js';

type Row = Omit<Selectable<MessagesTable>, 'raw'> & { has_raw: boolean };

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
    action: row.action,
    reason: row.reason,
    modelVersion: row.model_version,
    topFeatures: parseJson(row.top_features),
    scanMs: row.scan_ms,
    totalMs: row.total_ms,
    status: row.status,
    response: row.response,
    hasRaw: row.has_raw,
    auth: parseJson(row.auth) ?? null,
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

export function createMessageQueries(db: Db): Pick<MessageLog, 'get' | 'getRaw' | 'list'> {
  return {
    async get(id) {
      const row = await db
        .selectFrom('messages')
        .select([...SUMMARY_COLUMNS, sql<boolean>`raw is not null`.as('has_raw')])
        .where('id', '=', id)
        .executeTakeFirst();
      return row ? toSummary(row) : null;
    },
    async getRaw(id) {
      const row = await db.selectFrom('messages').select('raw').where('id', '=', id).executeTakeFirst();
      return row?.raw ? Buffer.from(row.raw) : null;
    },
    async list(filter: MessageFilter): Promise<Page<MessageSummary>> {
      let q = db
        .selectFrom('messages')
        .select([...SUMMARY_COLUMNS, sql<boolean>`raw is not null`.as('has_raw')]);
      if (filter.action) q = q.where('action', '=', filter.action);
      if (filter.status) q = q.where('status', '=', filter.status);
      if (filter.sender) q = q.where(equalsIgnoringCase('mail_from', filter.sender));
      if (filter.recipient) q = q.where(sql`rcpt_to`, '@>', sql`array[${filter.recipient}]::text[]`);
      if (filter.subject) q = q.where(containsIgnoringCase('subject', filter.subject));
      if (filter.contentHash) q = q.where('content_hash', '=', filter.contentHash);
      if (filter.minScore !== undefined) q = q.where('score', '>=', filter.minScore);
      if (filter.maxScore !== undefined) q = q.where('score', '<=', filter.maxScore);
      return pageNewestFirst(q, 'received_at', filter, toSummary, (m) => [m.receivedAt, m.id]);
    },
  };
}
