import { randomUUID } from 'node:crypto';
import type { Label } from '../classifier/types.js';
import type { Db } from './db.js';
import { storableText } from './text.js';
import type { FeedbackStore } from './types.js';

export function createFeedbackStore(db: Db): FeedbackStore {
  return {
    async record(entry) {
      const row = { id: randomUUID(), created_at: new Date(), ...entry };
      await db
        .insertInto('feedback')
        .values({
          id: row.id,
          message_id: entry.messageId,
          content_hash: entry.contentHash,
          label: entry.label,
          actor: storableText(entry.actor),
          created_at: row.created_at,
        })
        .execute();
      return { id: row.id, createdAt: row.created_at, ...entry };
    },
    async latestLabel(contentHash) {
      const row = await db
        .selectFrom('feedback')
        .select('label')
        .where('content_hash', '=', contentHash)
        .orderBy('created_at', 'desc')
        .limit(1)
        .executeTakeFirst();
      return (row?.label as Label | undefined) ?? null;
    },
  };
}
