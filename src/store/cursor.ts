/** Keyset pagination: an opaque cursor holds the (time, id) of the last row of a page. */
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
    if (typeof v.at === 'string' && typeof v.id === 'string' && !Number.isNaN(Date.parse(v.at)))
      return v as CursorKey;
  } catch {
    // fall through
  }
  throw new CursorError();
}

export class CursorError extends Error {
  readonly code = 'BAD_CURSOR';
  constructor() {
    super('invalid cursor');
  }
}

export function clampLimit(limit: number | undefined, max = 500): number {
  return Math.min(max, Math.max(1, Math.trunc(limit ?? 50)));
}
