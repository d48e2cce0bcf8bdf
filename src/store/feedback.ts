/**
 * Feedback: who labelled which content spam or ham, and the bytes the model learned from, so the lesson can
 * be replayed onto the active model after a restart or an activation, and included in training.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from './db.js';
import { parseJson, storableJson, storableText } from './text.js';
import type { FeedbackStore, ReplayableFeedback, TrainingFeedback } from './types.js';

/** Rows (each with up to scanner.maxScanBytes of raw) read per query: bounds the memory of a replay. */
const PAGE = 100;

/** The greatest uuid: the position (t, MAX_UUID) comes after every row created at t. */
const MAX_UUID = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

/** The JSON column as names ([] for null). */
const signalsOf = (value: string[] | string | null): string[] => (value === null ? [] : parseJson(value));

interface Position {
  createdAt: Date;
  id: string;
}

export function createFeedbackStore(db: Db): FeedbackStore {
  /** The (created_at, id) of the oldest of the `limit` most recent replayable rows after `after`; null
   * when there are fewer (then the replay starts at `after`). */
  async function capStart(after: Date | null, limit: number): Promise<Position | null> {
    let query = db
      .selectFrom('feedback')
      .select(['created_at', 'id'])
      .where('raw', 'is not', null)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .offset(Math.max(0, limit - 1))
      .limit(1);
    if (after) query = query.where('created_at', '>', after);
    const row = await query.executeTakeFirst();
    return row ? { createdAt: new Date(row.created_at), id: row.id } : null;
  }

  /** Replayable rows from `from` (inclusive or not; null: the beginning), except `exclude`, in (created_at,
   * id) order, a page at a time (keyset paging). */
  async function* pages(
    from: Position | null,
    inclusive: boolean,
    exclude: readonly string[],
  ): AsyncGenerator<ReplayableFeedback> {
    for (;;) {
      let query = db
        .selectFrom('feedback as f')
        .select(['f.id', 'f.content_hash', 'f.label', 'f.raw', 'f.created_at'])
        // What live feedback un-learned: the label just before this row for the same content, at any time
        // (also before `from`: a version trained with feedback learned that label in training).
        .select(['f.auth_signals'])
        .select((eb) => {
          const before = eb
            .selectFrom('feedback as p')
            .whereRef('p.content_hash', '=', 'f.content_hash')
            .where(sql<boolean>`(p.created_at, p.id) < (f.created_at, f.id)`)
            .orderBy('p.created_at', 'desc')
            .orderBy('p.id', 'desc')
            .limit(1);
          return [
            before.select('p.label').as('previous'),
            before.select('p.auth_signals').as('previous_auth'),
          ];
        })
        .where('f.raw', 'is not', null)
        .orderBy('f.created_at')
        .orderBy('f.id')
        .limit(PAGE);
      if (from) {
        const { createdAt, id } = from;
        query = query.where(
          inclusive
            ? sql<boolean>`(f.created_at, f.id) >= (${createdAt}::timestamptz, ${id}::uuid)`
            : sql<boolean>`(f.created_at, f.id) > (${createdAt}::timestamptz, ${id}::uuid)`,
        );
      }
      if (exclude.length > 0) query = query.where(sql<boolean>`not (f.id = any(${[...exclude]}::uuid[]))`);
      const rows = await query.execute();
      for (const r of rows) {
        yield {
          id: r.id,
          contentHash: r.content_hash,
          label: r.label,
          previous: r.previous ?? null,
          raw: Buffer.from(r.raw as Buffer),
          createdAt: new Date(r.created_at),
          authSignals: signalsOf(r.auth_signals),
          previousAuthSignals: signalsOf(r.previous_auth ?? null),
        } satisfies ReplayableFeedback;
      }
      const last = rows.at(-1);
      if (!last || rows.length < PAGE) return;
      from = { createdAt: new Date(last.created_at), id: last.id };
      inclusive = false;
    }
  }

  return {
    async record(entry) {
      const id = entry.id ?? randomUUID();
      const createdAt = entry.createdAt ?? new Date();
      await db
        .insertInto('feedback')
        .values({
          id,
          message_id: entry.messageId,
          content_hash: entry.contentHash,
          label: entry.label,
          actor: storableText(entry.actor),
          created_at: createdAt,
          raw: entry.raw,
          auth_signals: entry.authSignals?.length ? storableJson(entry.authSignals) : null,
        })
        .execute();
      return {
        id,
        createdAt,
        messageId: entry.messageId,
        contentHash: entry.contentHash,
        label: entry.label,
        actor: entry.actor,
      };
    },

    async latestLabel(contentHash) {
      const row = await db
        .selectFrom('feedback')
        .select(['label', 'auth_signals'])
        .where('content_hash', '=', contentHash)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc') // the order replay reads rows in
        .limit(1)
        .executeTakeFirst();
      return row ? { label: row.label, authSignals: signalsOf(row.auth_signals) } : null;
    },

    async *replayable(after, limit) {
      if (limit <= 0) return;
      const start = await capStart(after, limit);
      // The first page includes `start` itself.
      if (start) yield* pages(start, true, []);
      else yield* pages(after ? { createdAt: after, id: MAX_UUID } : null, false, []);
    },

    replayableAfter: (after, exclude) => pages(after, false, exclude),

    async *forTraining(until, limit) {
      if (limit <= 0) return;
      // The latest row of each hash (small: no raw), the `limit` most recent of them, oldest first.
      const latest = await db
        .selectFrom(
          db
            .selectFrom('feedback')
            .distinctOn('content_hash')
            .select(['content_hash', 'label', 'created_at', 'id', 'auth_signals'])
            .where('created_at', '<=', until)
            .orderBy('content_hash')
            .orderBy('created_at', 'desc')
            .orderBy('id', 'desc')
            .as('l'),
        )
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
      latest.reverse();
      for (let i = 0; i < latest.length; i += PAGE) {
        const page = latest.slice(i, i + PAGE);
        // The newest bytes kept for each hash: the label's own row, or an earlier row of the same content
        // when that one has none.
        const raws = await db
          .selectFrom('feedback')
          .distinctOn('content_hash')
          .select(['content_hash', 'raw'])
          .where(
            'content_hash',
            'in',
            page.map((l) => l.content_hash),
          )
          .where('raw', 'is not', null)
          .where('created_at', '<=', until)
          .orderBy('content_hash')
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .execute();
        const byHash = new Map(raws.map((r) => [r.content_hash, r.raw]));
        for (const l of page) {
          const raw = byHash.get(l.content_hash);
          if (!raw) continue;
          yield {
            contentHash: l.content_hash,
            label: l.label,
            raw: Buffer.from(raw),
            authSignals: signalsOf(l.auth_signals),
          } satisfies TrainingFeedback;
        }
      }
    },
  };
}
