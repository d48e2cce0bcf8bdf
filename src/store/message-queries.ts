/** The verdict log read back: one entry, its raw bytes, and filtered pages newest first. */
import { type Selectable, sql } from 'kysely';
import { after, clampLimit, toPage } from './cursor.js';
import type { Db } from './db.js';
import { containsIgnoringCase, equalsIgnoringCase } from './listing.js';
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

/** Newest rows a subject search reads in received_at order before it turns to the trigram index: a term in
 * at least one row in a hundred fills a 50-row page from these. */
const RECENT_WINDOW = 5000;

/** The log with every filter but the subject applied. */
function filtered(db: Db, filter: MessageFilter) {
  let q = db.selectFrom('messages').select([...SUMMARY_COLUMNS, sql<boolean>`raw is not null`.as('has_raw')]);
  if (filter.action) q = q.where('action', '=', filter.action);
  if (filter.status) q = q.where('status', '=', filter.status);
  if (filter.sender) q = q.where(equalsIgnoringCase('mail_from', filter.sender));
  // Ignoring case, through the index on lower_each(rcpt_to) (migration 0012).
  if (filter.recipient)
    q = q.where(sql`lower_each(rcpt_to)`, '@>', sql`array[lower(${filter.recipient})]::text[]`);
  if (filter.contentHash) q = q.where('content_hash', '=', filter.contentHash);
  if (filter.minScore !== undefined) q = q.where('score', '>=', filter.minScore);
  if (filter.maxScore !== undefined) q = q.where('score', '<=', filter.maxScore);
  if (filter.since) q = q.where('received_at', '>=', filter.since);
  if (filter.until) q = q.where('received_at', '<', filter.until);
  if (filter.cursor) q = q.where(after('received_at', filter.cursor));
  return q;
}

function newestFirst(q: ReturnType<typeof filtered>, limit: number) {
  return q.orderBy('received_at', 'desc').orderBy('id', 'desc').limit(limit);
}

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
      const limit = clampLimit(filter.limit);
      const base = filtered(db, filter);
      const toResult = (rows: Row[]) => toPage(rows, limit, toSummary, (m) => [m.receivedAt, m.id]);
      if (!filter.subject) return toResult(await newestFirst(base, limit + 1).execute());
      const like = containsIgnoringCase('subject', filter.subject);
      // A common term fills the page from the newest rows: read the newest RECENT_WINDOW rows (in
      // received_at order) and keep those that match.
      const recent = await db
        .selectFrom(newestFirst(base, RECENT_WINDOW).as('recent'))
        .selectAll()
        .where(like)
        .orderBy('received_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit + 1)
        .execute();
      if (recent.length > limit) return toResult(recent);
      // A rarer term is found through the trigram index: all matches, then the newest. Left to itself
      // the planner walks received_at and filters instead, which reads the whole log when few rows match;
      // the materialized CTE keeps it from doing that.
      const matched = await db
        .with(
          (cte) => cte('matched').materialized(),
          () => base.where(like),
        )
        .selectFrom('matched')
        .selectAll()
        .orderBy('received_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit + 1)
        .execute();
      return toResult(matched);
    },
  };
}
