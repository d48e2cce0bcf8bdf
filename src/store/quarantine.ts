/**
 * Quarantine: one stored raw message and one row per recipient, written in one transaction that gates the
 * upstream 250. A release claims its row (held → releasing) in one statement before relaying, so of concurrent
 * releases and deletes exactly one wins; a failed relay puts the row back. When no row of a stored message is
 * held or releasing any more, its bytes are dropped: released and deleted mail is no longer readable.
 */
import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { Db } from './db.js';
import { containsIgnoringCase, equalsIgnoringCase, pageNewestFirst } from './listing.js';
import type { QuarantineTable } from './schema.js';
import { storableText, storableTextOrNull } from './text.js';
import type { Page, QuarantineFilter, QuarantineItem, QuarantineState, QuarantineStore } from './types.js';

function toItem(r: Selectable<QuarantineTable>): QuarantineItem {
  return {
    id: r.id,
    messageId: r.message_id,
    recipient: r.recipient,
    mailFrom: r.mail_from,
    subject: r.subject,
    headerFrom: r.header_from,
    score: r.score,
    reason: r.reason,
    size: r.size,
    state: r.state,
    createdAt: new Date(r.created_at),
    expiresAt: new Date(r.expires_at),
    actedBy: r.acted_by,
    actedAt: r.acted_at ? new Date(r.acted_at) : null,
  };
}

/** States in which a row's message is still wanted (readable, releasable). */
const LIVE: QuarantineState[] = ['held', 'releasing'];

/** Drops the bytes of those stored messages that no recipient row still wants. */
export async function dropSettledBytes(db: Db, messageIds: string[]): Promise<void> {
  if (messageIds.length === 0) return;
  await db
    .updateTable('quarantine_messages')
    .set({ raw: null })
    .where('id', 'in', messageIds)
    .where('raw', 'is not', null)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('quarantine')
            .select('quarantine.id')
            .whereRef('quarantine.message_id', '=', 'quarantine_messages.id')
            .where('quarantine.state', 'in', LIVE),
        ),
      ),
    )
    .execute();
}

/** Recipient rows per insert (12 parameters each). */
const HOLD_BATCH = 1000;

export function createQuarantineStore(db: Db, onChange: () => void = () => {}): QuarantineStore {
  /** Rows `from` → `to` in one statement: of concurrent moves of a row exactly one gets it back. */
  const move = (ids: string[], from: QuarantineState, to: QuarantineState, actor: string) =>
    db
      .updateTable('quarantine')
      .set({ state: to, acted_by: actor, acted_at: new Date() })
      .where('id', 'in', ids)
      .where('state', '=', from)
      .returningAll()
      .execute();
  return {
    async hold(item) {
      const now = new Date();
      const rows = await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('quarantine_messages')
          .values({ id: item.messageId, raw: item.raw, created_at: now })
          .execute();
        const values = item.recipients.map((recipient) => ({
          id: randomUUID(),
          message_id: item.messageId,
          recipient: storableText(recipient),
          mail_from: storableText(item.mailFrom),
          subject: storableTextOrNull(item.subject),
          header_from: storableTextOrNull(item.headerFrom),
          score: item.score,
          reason: storableText(item.reason),
          size: item.raw.length,
          state: 'held' as const,
          created_at: now,
          expires_at: item.expiresAt,
        }));
        // In statements of at most HOLD_BATCH rows: one statement takes at most 65 535 parameters (12 a
        // row), and a message may have more recipients than that allows (a milter has no recipient limit).
        const inserted = [];
        for (let at = 0; at < values.length; at += HOLD_BATCH)
          inserted.push(
            ...(await trx
              .insertInto('quarantine')
              .values(values.slice(at, at + HOLD_BATCH))
              .returningAll()
              .execute()),
          );
        return inserted;
      });
      onChange();
      return rows.map(toItem);
    },
    async get(id) {
      const row = await db.selectFrom('quarantine').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toItem(row) : null;
    },
    async getRaw(id) {
      const row = await db
        .selectFrom('quarantine')
        .innerJoin('quarantine_messages', 'quarantine_messages.id', 'quarantine.message_id')
        .select('quarantine_messages.raw')
        .where('quarantine.id', '=', id)
        .where('quarantine.state', 'in', LIVE)
        .executeTakeFirst();
      return row?.raw ? Buffer.from(row.raw) : null;
    },
    async getRawOfMessage(messageId) {
      const row = await db
        .selectFrom('quarantine_messages')
        .select('raw')
        .where('id', '=', messageId)
        .where((eb) =>
          eb.exists(
            eb
              .selectFrom('quarantine')
              .select('quarantine.id')
              .where('quarantine.message_id', '=', messageId)
              .where('quarantine.state', 'in', LIVE),
          ),
        )
        .executeTakeFirst();
      return row?.raw ? Buffer.from(row.raw) : null;
    },
    async list(filter: QuarantineFilter): Promise<Page<QuarantineItem>> {
      let q = db.selectFrom('quarantine').selectAll();
      if (filter.state) q = q.where('state', '=', filter.state);
      if (filter.sender) q = q.where(equalsIgnoringCase('mail_from', filter.sender));
      if (filter.recipient) q = q.where(equalsIgnoringCase('recipient', filter.recipient));
      if (filter.subject) q = q.where(containsIgnoringCase('subject', filter.subject));
      return pageNewestFirst(q, 'created_at', filter, toItem, (item) => [item.createdAt, item.id]);
    },
    async claimRelease(id, actor) {
      const [row] = await move([id], 'held', 'releasing', actor);
      return row ? toItem(row) : null;
    },
    async completeRelease(id, actor, relayed) {
      const [row] = await move([id], 'releasing', relayed ? 'released' : 'held', actor);
      if (!row) return null;
      if (relayed) await dropSettledBytes(db, [row.message_id]);
      onChange();
      return toItem(row);
    },
    async remove(ids, actor) {
      if (ids.length === 0) return [];
      const rows = await move(ids, 'held', 'deleted', actor);
      await dropSettledBytes(db, [...new Set(rows.map((r) => r.message_id))]);
      onChange();
      return rows.map(toItem);
    },
    async countHeld() {
      const row = await db
        .selectFrom('quarantine')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('state', '=', 'held')
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}
