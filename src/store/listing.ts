/**
 * What the listings (message log, quarantine) share: case-insensitive address and subject filters, and a page
 * newest first in a time window, continued by keyset cursor (cursor.ts).
 */
import { type RawBuilder, type SelectQueryBuilder, sql } from 'kysely';
import { after, clampLimit, escapeLike, toPage } from './cursor.js';
import type { Page } from './types.js';

/**
 * Whether a time can bound a listing: Postgres has no year 0 and JavaScript reads years up to 275760, so the
 * API and the console refuse a bound outside the years 1 to 9999 (a 400 naming the field) before a query.
 */
export function isListingTime(d: Date): boolean {
  const year = d.getUTCFullYear();
  return !Number.isNaN(d.getTime()) && year >= 1 && year <= 9999;
}

/** A time window and where the previous page stopped. */
export interface ListWindow {
  since?: Date;
  until?: Date;
  /** Opaque cursor from the previous page. */
  cursor?: string;
  limit?: number;
}

/** `column` equals `value` ignoring case (addresses are compared that way). */
export function equalsIgnoringCase(column: string, value: string): RawBuilder<boolean> {
  return sql<boolean>`lower(${sql.ref(column)}) = ${value.toLowerCase()}`;
}

/** `column` contains `text` ignoring case, its `%` and `_` taken literally. */
export function containsIgnoringCase(column: string, text: string): RawBuilder<boolean> {
  return sql<boolean>`lower(${sql.ref(column)}) like ${`%${escapeLike(text.toLowerCase())}%`}`;
}

/**
 * One page of `query` newest first by (`column`, id), within the window; `key` gives an item's (time, id), from
 * which the next page's cursor is made.
 */
export async function pageNewestFirst<DB, TB extends keyof DB, R, T>(
  query: SelectQueryBuilder<DB, TB, R>,
  column: 'received_at' | 'created_at',
  window: ListWindow,
  map: (row: R) => T,
  key: (item: T) => [Date, string],
): Promise<Page<T>> {
  const limit = clampLimit(window.limit);
  const at = sql.ref(column);
  let q = query;
  if (window.since) q = q.where(sql<boolean>`${at} >= ${window.since}`);
  if (window.until) q = q.where(sql<boolean>`${at} < ${window.until}`);
  if (window.cursor) q = q.where(after(column, window.cursor));
  const rows = await q
    .orderBy(at, 'desc')
    .orderBy(sql.ref('id'), 'desc')
    .limit(limit + 1)
    .execute();
  return toPage(rows, limit, map, key);
}
