/**
 * What feedback one model object has learned: the rows of the `feedback` table applied to it (by the replay,
 * live, or by feedback sync), so each row is applied to it exactly once; where its next sync reads from; and
 * its feedback generation, which the verdict cache keys on beside the version. Pure: no I/O, no clock.
 *
 * Why a window and not a plain cursor: a row's created_at is taken before its INSERT commits, and instances'
 * clocks differ a little, so a row can become visible after a later-dated row was already applied. A sync
 * therefore re-reads the last LOOKBACK_MS before the newest row applied and leaves out the ids it already
 * applied in that window (the only ids it has to remember).
 */
/** A row's place in replay order: (created_at, id), as the feedback store orders rows. */
export interface FeedbackPosition {
  createdAt: Date;
  id: string;
}

/** How late a row may become visible after rows dated later than it (insert latency, clock skew). */
export const LOOKBACK_MS = 5 * 60_000;

/** The greatest uuid: the position (t, MAX_UUID) is after every row created at t. */
export const MAX_UUID = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

/** Orders positions as Postgres orders (created_at, id): uuids compare as their lowercase hex text. */
export function comparePositions(a: FeedbackPosition, b: FeedbackPosition): number {
  const t = a.createdAt.getTime() - b.createdAt.getTime();
  if (t !== 0) return t;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export interface FeedbackLedger {
  /** Whether the row was applied to this model. */
  has(id: string): boolean;
  /** Records that the row was applied (call it in the same tick as the change to the model, so the
   * generation and the weights never disagree). */
  add(row: FeedbackPosition): void;
  /** Rows at or before `position` are never applied by a sync: the replay started after it. Only moves
   * forward. */
  startAfter(position: FeedbackPosition): void;
  /**
   * What the next sync reads: the rows after `after`, except `exclude` (applied already). Forgets the ids
   * that no read from `after` on can return.
   */
  window(): { after: FeedbackPosition; exclude: string[] };
  /**
   * The feedback this model has learned, as a short string: '' for none, else the count of rows and an
   * order-independent digest of their ids. Two processes that applied the same rows to the same version have
   * the same generation; any further row changes it.
   */
  generation(): string;
}

export function createFeedbackLedger(start: FeedbackPosition, lookbackMs = LOOKBACK_MS): FeedbackLedger {
  let floor = start;
  /** Newest created_at applied (ms); the window reaches back LOOKBACK_MS from it. */
  let newest: number | null = null;
  /** Applied ids a sync may still read, with their position. */
  const recent = new Map<string, FeedbackPosition>();
  let count = 0;
  // XOR of the ids' 128 bits, as four 32-bit words: order-independent, and no row is ever added twice.
  const digest = new Uint32Array(4);
  // Read twice per scan (cache get and set); changes only with add().
  let generation: string | null = '';

  return {
    has: (id) => recent.has(id),
    add(row) {
      recent.set(row.id, { createdAt: row.createdAt, id: row.id }); // not the lesson: it holds the raw bytes
      const t = row.createdAt.getTime();
      if (newest === null || t > newest) newest = t;
      const hex = row.id.replaceAll('-', '');
      for (let i = 0; i < 4; i++)
        digest[i] = (digest[i] as number) ^ Number.parseInt(hex.slice(i * 8, i * 8 + 8), 16);
      count++;
      generation = null;
    },
    startAfter(position) {
      if (comparePositions(position, floor) > 0) floor = position;
    },
    window() {
      let after = floor;
      if (newest !== null) {
        const back = { createdAt: new Date(newest - lookbackMs), id: MAX_UUID };
        if (comparePositions(back, after) > 0) after = back;
      }
      for (const [id, position] of recent) if (comparePositions(position, after) <= 0) recent.delete(id);
      return { after, exclude: [...recent.keys()] };
    },
    generation() {
      generation ??= `f${count}-${Array.from(digest, (w) => w.toString(16).padStart(8, '0')).join('')}`;
      return generation;
    },
  };
}
