/**
 * The linear model's weights: an open-addressing table from a feature's 32-bit FNV-1a hash to its slot, so an
 * artefact needs no feature strings and scoring costs one probe per feature of the message.
 */

/** Adagrad accumulator of a feature never updated (keeps the first step finite). */
export const G0 = 1e-8;

/** Slot i was trained on (its accumulator moved) or has reports in force. */
function isKnown(accum: Float32Array, reports: Float32Array, i: number): boolean {
  return (accum[i] as number) > G0 || (reports[i] as number) !== 0;
}

/** A table's arrays as they are in memory. */
export interface TableImage {
  capacity: number;
  size: number;
  cells: Uint32Array;
  accum: Float32Array;
  reports: Float32Array;
}

/**
 * Open-addressing hash → slot table (linear probing, load ≤ 1/2). Key 0 marks an empty slot. A slot's key
 * and weight sit side by side in one buffer (`cells`: key at 2i, weight bits at 2i+1), so a lookup while
 * scoring costs one cache miss; the Adagrad accumulators, used only when learning, live apart.
 */
export class FeatureTable {
  private cells: Uint32Array;
  private cellWeights: Float32Array;
  accum: Float32Array;
  /** Feedback reports each feature has had (net of un-learning): the feedback step shrinks with it. */
  reports: Float32Array;
  size = 0;
  private mask: number;
  /** Every slot is known (trained on, or taught by reports in force): a scoring lookup then reads the key
   * and weight alone, not the accumulators that live apart (a second cache miss per feature). Set by
   * `sealKnown`; cleared by `insert`, the one write that adds a slot not yet known. */
  private allKnown = false;

  constructor(capacity = 1 << 12) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.cells = new Uint32Array(cap * 2);
    this.cellWeights = new Float32Array(this.cells.buffer);
    this.accum = new Float32Array(cap).fill(G0);
    this.reports = new Float32Array(cap);
    this.mask = cap - 1;
  }

  /** The table's memory as laid out (slots included), for an image that restores without re-inserting. */
  image(): TableImage {
    return {
      capacity: this.capacity,
      size: this.size,
      cells: this.cells,
      accum: this.accum,
      reports: this.reports,
    };
  }

  /** A table over an image's arrays (taken, not copied). */
  static fromImage(image: TableImage): FeatureTable {
    const { capacity, size, cells, accum, reports } = image;
    if (capacity < 16 || (capacity & (capacity - 1)) !== 0 || size * 2 > capacity)
      throw new RangeError(`bad table image: capacity ${capacity}, size ${size}`);
    if (cells.length !== capacity * 2 || accum.length !== capacity || reports.length !== capacity)
      throw new RangeError('bad table image: array lengths do not match its capacity');
    const table = new FeatureTable(1);
    table.cells = cells;
    table.cellWeights = new Float32Array(cells.buffer, cells.byteOffset, cells.length);
    table.accum = accum;
    table.reports = reports;
    table.mask = capacity - 1;
    table.size = size;
    return table;
  }

  get capacity(): number {
    return this.mask + 1;
  }

  /** The key stored in slot i (0: empty). */
  key(i: number): number {
    return this.cells[2 * i] as number;
  }

  weight(i: number): number {
    return this.cellWeights[2 * i + 1] as number;
  }

  setWeight(i: number, w: number): void {
    this.cellWeights[2 * i + 1] = w;
  }

  /** Slot of a hash, or -1. */
  find(hash: number): number {
    const key = hash >>> 0 || 1;
    const cells = this.cells;
    const mask = this.mask;
    let i = (Math.imul(key, 0x9e3779b1) >>> 0) & mask;
    for (;;) {
      const k = cells[2 * i] as number;
      if (k === key) return i;
      if (k === 0) return -1;
      i = (i + 1) & mask;
    }
  }

  /**
   * Drops the slots no lookup may count (never updated: an Adagrad accumulator still at G0 and no report in
   * force), so that every slot left is known and lookups skip the accumulators until the next insert. Their
   * weights are never read: scoring and explanations treat such a feature as absent already. A writer of
   * `accum` or `reports` directly calls it afterwards (a model's constructor does).
   */
  sealKnown(): void {
    const { cells, accum, reports } = this;
    // Over these arrays, not this.accum: rehash replaces them before it asks.
    const keep = (j: number) => isKnown(accum, reports, j);
    for (let j = 0; j < accum.length; j++) {
      if (cells[2 * j] !== 0 && !keep(j)) {
        this.rehash(this.capacity, keep);
        break;
      }
    }
    this.allKnown = true;
  }

  /**
   * Weight of a hash's feature if the model knows it (trained on it or taught it by feedback still in
   * force), else undefined: the scoring lookup. A slot left by feedback that was un-learned is not known.
   */
  knownWeight(hash: number): number | undefined {
    const i = this.find(hash);
    if (i < 0) return undefined;
    if (!this.allKnown && !isKnown(this.accum, this.reports, i)) return undefined;
    return this.cellWeights[2 * i + 1] as number;
  }

  /** Weight of a hash's slot, undefined when absent. */
  weightOf(hash: number): number | undefined {
    const i = this.find(hash);
    return i < 0 ? undefined : (this.cellWeights[2 * i + 1] as number);
  }

  /** Slot of a hash, inserted (weight 0) if absent. May grow the table: slots found earlier become stale. */
  insert(hash: number): number {
    this.allKnown = false;
    if ((this.size + 1) * 2 > this.capacity) this.grow();
    const key = hash >>> 0 || 1;
    const mask = this.mask;
    let i = (Math.imul(key, 0x9e3779b1) >>> 0) & mask;
    for (;;) {
      const k = this.cells[2 * i] as number;
      if (k === key) return i;
      if (k === 0) {
        this.cells[2 * i] = key;
        this.size++;
        return i;
      }
      i = (i + 1) & mask;
    }
  }

  private grow(): void {
    this.rehash(this.capacity * 2, () => true);
  }

  /** Moves the slots `keep` takes (by their slot number now) into fresh arrays of `capacity` slots. */
  private rehash(capacity: number, keep: (j: number) => boolean): void {
    const { cells, cellWeights, accum, reports } = this;
    this.cells = new Uint32Array(capacity * 2);
    this.cellWeights = new Float32Array(this.cells.buffer);
    this.accum = new Float32Array(capacity).fill(G0);
    this.reports = new Float32Array(capacity);
    this.mask = capacity - 1;
    this.size = 0;
    for (let j = 0; j < accum.length; j++) {
      const k = cells[2 * j] as number;
      if (k === 0 || !keep(j)) continue;
      const i = this.insert(k);
      this.cellWeights[2 * i + 1] = cellWeights[2 * j + 1] as number;
      this.accum[i] = accum[j] as number;
      this.reports[i] = reports[j] as number;
    }
  }
}
