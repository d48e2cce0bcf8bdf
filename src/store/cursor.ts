/**
 * Keyset pagination shared by the listings: an opaque cursor holds the (time, id) of the last row of a page;
 * the next page is the rows strictly before it in (time desc, id desc) order.
 */
import { type RawBuilder, sql } from 'kysely';
import { CursorError } from '../errors.js';
import type { Page } from './types.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export interface CursorKey {
  at: string;
  id: string;
}

export function encodeCursor(at: Date, id: string): string {
  return Buffer.from(JSON.stringify({ at: at.toISOString(), id })).toString('base64url');
}

export function decodeCursor(cursor: string): CursorKey {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorKey>;
    if (
      typeof v.at === 'string' &&
      typeof v.id === 'string' &&
      UUID.test(v.id) &&
      !Number.isNaN(Date.parse(v.at))
    )
      return { at: v.at, id: v.id };
  } catch {
    // fall through
  }
  throw new CursorError();
}

export function clampLimit(limit: number | undefined, max = 500): number {
  return Math.min(max, Math.max(1, Math.trunc(limit ?? 50)));
}

/** The rows after `cursor` for a listing ordered by (`column` desc, id desc): a row comparison, which
 * Postgres answers from the (column, id) index like the spelled-out `<` or `= and <`. */
export function after(column: 'received_at' | 'created_at', cursor: string): RawBuilder<boolean> {
  const c = decodeCursor(cursor);
  return sql<boolean>`(${sql.ref(column)}, id) < (${new Date(c.at)}::timestamptz, ${c.id}::uuid)`;
}

/** A page from `limit + 1` rows read: the extra row only says whether a next page exists. */
export function toPage<R, T>(
  rows: R[],
  limit: number,
  map: (row: R) => T,
  key: (item: T) => [Date, string],
): Page<T> {
  const items = rows.slice(0, limit).map(map);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(...key(last)) : null };
}

export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
