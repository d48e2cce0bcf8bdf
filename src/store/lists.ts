/** Allow/block list entries kept in the database (the console and `/api/v1/lists` edit them). */
import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { EntryKind, ListEntry, ListName } from '../lists/entry.js';
import type { Db } from './db.js';
import type { SenderListsTable } from './schema.js';
import { storableText } from './text.js';

export interface SenderListStore {
  all(): Promise<ListEntry[]>;
  /** Adds an entry; an identical one (list, kind, value, scope) is returned as it is. */
  add(entry: {
    list: ListName;
    kind: EntryKind;
    value: string;
    scope: string;
    alignedOnly: boolean;
    createdBy: string;
  }): Promise<ListEntry>;
  remove(id: string): Promise<ListEntry | null>;
}

function toEntry(r: Selectable<SenderListsTable>): ListEntry {
  return {
    id: r.id,
    list: r.list,
    kind: r.kind,
    value: r.value,
    scope: r.scope,
    alignedOnly: r.aligned_only,
    createdAt: new Date(r.created_at),
    createdBy: r.created_by,
  };
}

export function createSenderListStore(db: Db): SenderListStore {
  return {
    async all() {
      const rows = await db.selectFrom('sender_lists').selectAll().orderBy('created_at', 'desc').execute();
      return rows.map(toEntry);
    },
    async add(e) {
      await db
        .insertInto('sender_lists')
        .values({
          id: randomUUID(),
          list: e.list,
          kind: e.kind,
          value: storableText(e.value),
          scope: e.scope,
          aligned_only: e.alignedOnly,
          created_at: new Date(),
          created_by: storableText(e.createdBy),
        })
        .onConflict((oc) => oc.columns(['list', 'kind', 'value', 'scope']).doNothing())
        .execute();
      const row = await db
        .selectFrom('sender_lists')
        .selectAll()
        .where('list', '=', e.list)
        .where('kind', '=', e.kind)
        .where('value', '=', storableText(e.value))
        .where('scope', '=', e.scope)
        .executeTakeFirstOrThrow();
      return toEntry(row);
    },
    async remove(id) {
      const row = await db.deleteFrom('sender_lists').where('id', '=', id).returningAll().executeTakeFirst();
      return row ? toEntry(row) : null;
    },
  };
}
