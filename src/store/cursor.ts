/** Keyset pagination: an opaque cursor holds the (time, id) of the last row of a page. */
import { CursorError } from '../errors.js';

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
      return v as CursorKey;
  } catch {
    // fall through
  }
  throw new CursorError();
}

export function clampLimit(limit: number | undefined, max = 500): number {
  return Math.min(max, Math.max(1, Math.trunc(limit ?? 50)));
}
