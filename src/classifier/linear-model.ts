/**
 * The spam model: logistic regression over the message's hashed sparse features (binary presence, the
 * feature vector scaled to unit length: each present feature counts 1/sqrt(n) for a message of n features),
 * trained by Adagrad. Scoring costs one hash-table probe per feature of the message (never a pass over the
 * vocabulary); the margin z = bias + sum of the present features' weights / sqrt(n) is turned into a
 * probability by a logistic calibration fitted on held-out TRAIN data, score = sigmoid(a * (z - t)), with
 * the decision point 0.5 at z = t, chosen so held-out ham false positives stay within a target.
 *
 * Features are stored by their 32-bit FNV-1a hash in an open-addressing table (keys, weights and Adagrad
 * accumulators side by side), so the artefact needs no strings; explanations use the message's own feature
 * strings, so the hash loses nothing a user sees.
 *
 * Evidence: a message whose features the model mostly does not know is not judged on the few it does.
 * With k known features, the margin's distance from the bias (the margin of a message the model knows
 * nothing of, below the decision point) is scaled by k / (k + evidenceK): mail unlike anything trained on
 * moves toward "unsure" instead of crossing the tag threshold on two or three words. The decision point is
 * chosen on held-out margins scaled the same way.
 *
 * Feedback: `learn` takes one step as if the message had been scored fully wrong (gradient magnitude 1 on
 * each of its features). The step of a feature shrinks with the feedback that feature has had, not with
 * its training history: step = feedbackEta / sqrt(n) / sqrt(1 + reports on it), so the first reports of a
 * site's mail move even features the corpus knew well (one report moves its own margin by about
 * feedbackEta), and a feature reported often settles. `unlearn` takes the same step back (its report count
 * is decremented first), so un-learning reverses learning exactly up to float32 rounding of the stored
 * weights. A never-seen feature gets a slot on learn. Models with feedbackEta 0 take the Adagrad-sized
 * step of their training accumulators instead.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { fnv1a, ModelError, sigmoid } from './common.js';
import type { FeatureWeight, Label, ScoreResult, SpamModel } from './types.js';

export interface LinearParams {
  /** Adagrad base step. */
  eta: number;
  /** Passes over the training set. */
  epochs: number;
  /** Seed of the deterministic shuffle of the training order. */
  seed: number;
  /** Whether an intercept is learned (without one, a message with no known feature has margin 0). */
  fitBias: boolean;
  /** Calibration: score = sigmoid(a * (z - t)). The decision point 0.5 is z = t. */
  a: number;
  t: number;
  /** Evidence scaling: the margin's pull counts k / (k + evidenceK) for k known features (0: off). */
  evidenceK: number;
  /** Feedback step (0: the training accumulators' Adagrad step). */
  feedbackEta: number;
  /** How much a feature's training history damps its feedback step. */
  feedbackAccum: number;
}

/** Chosen by 5-fold cross-validation on TRAIN (see docs/classifier.md). */
export const DEFAULT_LINEAR_PARAMS: LinearParams = {
  eta: 1,
  epochs: 3,
  seed: 1,
  fitBias: false,
  a: 1,
  t: 0,
  evidenceK: 10,
  feedbackEta: 1,
  feedbackAccum: 1,
};

/** What a stored artefact without these parameters scored and learned with. */
const STORED_DEFAULTS: Pick<LinearParams, 'evidenceK' | 'feedbackEta' | 'feedbackAccum'> = {
  evidenceK: 0,
  feedbackEta: 0,
  feedbackAccum: 1,
};

export const LINEAR_MAGIC = 'MSM2';
const EXPLAIN = 10;
/** Adagrad accumulator of a feature never updated (keeps the first step finite). */
const G0 = 1e-8;

/** The share of a margin's pull that counts with k known features. */
export function evidenceFactor(known: number, evidenceK: number): number {
  return evidenceK > 0 ? known / (known + evidenceK) : 1;
}

/** bias + (sum of known weights / sqrt(n)) scaled by the evidence factor. */
export function evidenceMargin(
  bias: number,
  sum: number,
  features: number,
  known: number,
  evidenceK: number,
): number {
  if (features === 0) return bias;
  return bias + (evidenceFactor(known, evidenceK) * sum) / Math.sqrt(features);
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

  constructor(capacity = 1 << 12) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.cells = new Uint32Array(cap * 2);
    this.cellWeights = new Float32Array(this.cells.buffer);
    this.accum = new Float32Array(cap).fill(G0);
    this.reports = new Float32Array(cap);
    this.mask = cap - 1;
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
   * Weight of a hash's feature if the model knows it (trained on it or taught it by feedback still in
   * force), else undefined: the scoring lookup. A slot left by feedback that was un-learned is not known.
   */
  knownWeight(hash: number): number | undefined {
    const i = this.find(hash);
    if (i < 0) return undefined;
    if ((this.accum[i] as number) <= G0 && (this.reports[i] as number) === 0) return undefined;
    return this.cellWeights[2 * i + 1] as number;
  }

  /** Weight of a hash's slot, undefined when absent. */
  weightOf(hash: number): number | undefined {
    const key = hash >>> 0 || 1;
    const cells = this.cells;
    const mask = this.mask;
    let i = (Math.imul(key, 0x9e3779b1) >>> 0) & mask;
    for (;;) {
      const k = cells[2 * i] as number;
      if (k === key) return this.cellWeights[2 * i + 1] as number;
      if (k === 0) return undefined;
      i = (i + 1) & mask;
    }
  }

  /** Slot of a hash, inserted (weight 0) if absent. May grow the table: slots found earlier become stale. */
  insert(hash: number): number {
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
    const old = this.cells;
    const oldWeights = this.cellWeights;
    const oldAccum = this.accum;
    const oldReports = this.reports;
    const cap = this.capacity * 2;
    this.cells = new Uint32Array(cap * 2);
    this.cellWeights = new Float32Array(this.cells.buffer);
    this.accum = new Float32Array(cap).fill(G0);
    this.reports = new Float32Array(cap);
    this.mask = cap - 1;
    this.size = 0;
    for (let j = 0; j < oldAccum.length; j++) {
      const k = old[2 * j] as number;
      if (k === 0) continue;
      const i = this.insert(k);
      this.cellWeights[2 * i + 1] = oldWeights[2 * j + 1] as number;
      this.accum[i] = oldAccum[j] as number;
      this.reports[i] = oldReports[j] as number;
    }
  }
}

/** The slots of a message's features (inserting never-seen ones when `insert`). */
function slotsOf(table: FeatureTable, tokens: readonly string[], insert: boolean): number[] {
  const hashes = tokens.map(fnv1a);
  // Insert first: growing the table moves slots.
  if (insert) for (const h of hashes) table.insert(h);
  const slots: number[] = [];
  for (const h of hashes) {
    const i = table.find(h);
    if (i >= 0) slots.push(i);
  }
  return slots;
}

export class LinearModel implements SpamModel {
  version: string;
  params: LinearParams;
  bias = 0;
  /** Labelled messages the weights were trained or taught on. */
  nSpam = 0;
  nHam = 0;
  table: FeatureTable;

  constructor(
    params: LinearParams = DEFAULT_LINEAR_PARAMS,
    version = 'untrained',
    table = new FeatureTable(),
  ) {
    this.params = { ...params };
    this.version = version;
    this.table = table;
  }

  get vocabularySize(): number {
    return this.table.size;
  }

  /** The uncalibrated margin z of a feature list (its distinct feature strings, as extractFeatures gives),
   * evidence scaling applied. */
  margin(tokens: readonly string[]): number {
    const table = this.table;
    let sum = 0;
    let known = 0;
    for (const t of tokens) {
      const w = table.knownWeight(fnv1a(t));
      if (w === undefined) continue;
      sum += w;
      known++;
    }
    return evidenceMargin(this.bias, sum, tokens.length, known, this.params.evidenceK);
  }

  score(tokens: readonly string[]): ScoreResult {
    const table = this.table;
    // The EXPLAIN heaviest features, kept sorted by |weight| descending (insertion into a short list).
    const top: { feature: string; w: number }[] = [];
    let floor = 0;
    let sum = 0;
    let known = 0;
    for (const feature of tokens) {
      const w = table.knownWeight(fnv1a(feature));
      if (w === undefined) continue;
      sum += w;
      known++;
      const m = Math.abs(w);
      if (m === 0 || (top.length === EXPLAIN && m <= floor)) continue;
      let k = top.length;
      while (k > 0) {
        const prev = top[k - 1] as { feature: string; w: number };
        const pm = Math.abs(prev.w);
        if (pm > m || (pm === m && prev.feature < feature)) break;
        k--;
      }
      top.splice(k, 0, { feature, w });
      if (top.length > EXPLAIN) top.pop();
      if (top.length === EXPLAIN) floor = Math.abs((top[EXPLAIN - 1] as { w: number }).w);
    }
    const { a, t, evidenceK } = this.params;
    const factor = evidenceFactor(known, evidenceK);
    const scale = tokens.length === 0 ? 0 : factor / Math.sqrt(tokens.length);
    const z = evidenceMargin(this.bias, sum, tokens.length, known, evidenceK);
    const score = sigmoid(a * (z - t));
    const topFeatures: FeatureWeight[] = top.map((f) => ({
      feature: f.feature,
      weight: Number((f.w * scale * a).toFixed(4)),
    }));
    const evidence = { known, features: tokens.length, factor: Number(factor.toFixed(3)) };
    return { score, spam: score >= 0.5, topFeatures, evidence };
  }

  /** One feedback step toward `label` (sign +1) or back from it (sign -1). */
  private feedback(tokens: readonly string[], label: Label, sign: 1 | -1): void {
    const slots = slotsOf(this.table, tokens, sign === 1);
    if (slots.length === 0) return;
    const table = this.table;
    const g = 1 / Math.sqrt(tokens.length);
    const direction = (label === 'spam' ? 1 : -1) * sign;
    const { feedbackEta } = this.params;
    for (const i of slots) {
      // Un-learning first takes back the report, so it steps exactly as the learn it reverses did.
      if (sign === -1) table.reports[i] = Math.max(0, (table.reports[i] as number) - 1);
      const r = table.reports[i] as number;
      const step =
        feedbackEta > 0
          ? (feedbackEta * g) /
            Math.sqrt(g * g * (1 + r) + this.params.feedbackAccum * (table.accum[i] as number))
          : (this.params.eta * g) / Math.sqrt((table.accum[i] as number) + g * g);
      if (sign === 1) table.reports[i] = (table.reports[i] as number) + 1;
      table.setWeight(i, table.weight(i) + direction * step);
    }
  }

  learn(tokens: readonly string[], label: Label): void {
    this.feedback(tokens, label, 1);
    if (label === 'spam') this.nSpam++;
    else this.nHam++;
  }

  unlearn(tokens: readonly string[], label: Label): void {
    if ((label === 'spam' ? this.nSpam : this.nHam) === 0) return;
    this.feedback(tokens, label, -1);
    if (label === 'spam') this.nSpam--;
    else this.nHam--;
  }

  /** The uncompressed artefact body (also what the version digest is taken of). */
  private body(): Buffer {
    const table = this.table;
    const n = table.size;
    // Features are written grouped by weight: the features a training message alone contained share one
    // weight and accumulator (they received identical updates), so runs of equal values compress well.
    // Sort key: the weight's bits, then the feature hash (deterministic, and a native numeric sort).
    const order = new BigUint64Array(n);
    const bits = new Uint32Array(1);
    const asFloat = new Float32Array(bits.buffer);
    let j = 0;
    for (let i = 0; i < table.capacity; i++) {
      const key = table.key(i);
      if (key === 0) continue;
      asFloat[0] = table.weight(i);
      order[j++] = (BigInt(bits[0] as number) << 32n) | BigInt(key);
    }
    order.sort();
    const k = new Uint32Array(n);
    const w = new Float32Array(n);
    const g = new Float32Array(n);
    const r = new Float32Array(n);
    let reported = false;
    for (let x = 0; x < n; x++) {
      const key = Number((order[x] as bigint) & 0xffffffffn);
      const i = table.find(key);
      k[x] = key;
      w[x] = table.weight(i);
      g[x] = table.accum[i] as number;
      r[x] = table.reports[i] as number;
      if (r[x] !== 0) reported = true;
    }
    const header = Buffer.from(
      JSON.stringify({
        version: this.version,
        params: this.params,
        bias: this.bias,
        nSpam: this.nSpam,
        nHam: this.nHam,
        size: n,
        // Only a model that learned feedback carries the report counts (a trained artefact stays small).
        ...(reported ? { reports: true } : {}),
      }),
    );
    const head = Buffer.alloc(8);
    head.write(LINEAR_MAGIC, 0, 'latin1');
    head.writeUInt32LE(header.length, 4);
    return Buffer.concat([
      head,
      header,
      Buffer.from(k.buffer, 0, n * 4),
      Buffer.from(w.buffer, 0, n * 4),
      Buffer.from(g.buffer, 0, n * 4),
      ...(reported ? [Buffer.from(r.buffer, 0, n * 4)] : []),
    ]);
  }

  serialize(): Buffer {
    return gzipSync(this.body(), { level: 1 });
  }

  /** sha256 of the artefact's content (hex). */
  digest(): string {
    return createHash('sha256').update(this.body()).digest('hex');
  }
}

/** Reads an MSM2 artefact body (already gunzipped, magic checked). */
export function deserializeLinearModel(body: Buffer): LinearModel {
  const headerLength = body.readUInt32LE(4);
  let header: {
    version: string;
    params: LinearParams;
    bias: number;
    nSpam: number;
    nHam: number;
    size: number;
    reports?: boolean;
  };
  try {
    header = JSON.parse(body.toString('utf8', 8, 8 + headerLength));
  } catch {
    throw new ModelError('model artefact header is damaged');
  }
  const { size } = header;
  const offset = 8 + headerLength;
  const arrays = header.reports ? 4 : 3;
  if (!Number.isInteger(size) || body.length !== offset + size * 4 * arrays)
    throw new ModelError('model artefact is truncated');
  // Copy out of the (possibly unaligned) buffer.
  const slice = (start: number) =>
    body.buffer.slice(body.byteOffset + start, body.byteOffset + start + size * 4);
  const keys = new Uint32Array(slice(offset));
  const weights = new Float32Array(slice(offset + size * 4));
  const accum = new Float32Array(slice(offset + size * 8));
  const reports = header.reports ? new Float32Array(slice(offset + size * 12)) : null;
  const table = new FeatureTable(size);
  for (let j = 0; j < size; j++) {
    const i = table.insert(keys[j] as number);
    table.setWeight(i, weights[j] as number);
    table.accum[i] = accum[j] as number;
    if (reports) table.reports[i] = reports[j] as number;
  }
  const model = new LinearModel({ ...STORED_DEFAULTS, ...header.params }, header.version, table);
  model.bias = header.bias;
  model.nSpam = header.nSpam;
  model.nHam = header.nHam;
  return model;
}
