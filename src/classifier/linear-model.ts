/**
 * The spam model: logistic regression over the message's hashed sparse features (binary presence, the
 * feature vector scaled to unit length: each present feature counts 1/sqrt(n) for a message of n features),
 * trained by Adagrad. Scoring costs one hash-table probe per feature of the message (never a pass over the
 * vocabulary); the margin z = bias + sum of the present features' weights / sqrt(n) is turned into a
 * probability by a logistic calibration fitted on held-out TRAIN data, score = sigmoid(a * (z - t)), with
 * the decision point 0.5 at z = t, chosen so held-out ham false positives stay within a target.
 *
 * Features are stored by their 32-bit FNV-1a hash in an open-addressing table (feature-table.ts; the stored
 * form is linear-format.ts), so the artefact needs no strings; a message's features arrive as hashes
 * (feature-list.ts) and explanations spell the few they name, so the hash loses nothing a user sees.
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
import { sigmoid } from './common.js';
import { stringVector } from './feature-list.js';
import { FeatureTable } from './feature-table.js';
import { decodeLinearBody, encodeLinearBody } from './linear-format.js';
import type { FeatureInput, FeatureVector, FeatureWeight, Label, ScoreResult, SpamModel } from './types.js';

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
  /** Training keeps the weights of named content signals (signals.ts) at or above 0: each names a spam
   * trait, so the corpus may find one useless but never a sign of ham (site feedback may still do so). */
  signalsNonNegative: boolean;
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
  signalsNonNegative: true,
};

/** Features named in a verdict's explanation. */
const EXPLAIN = 10;

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

const vectorOf = (features: FeatureInput): FeatureVector =>
  'hashes' in features ? features : stringVector(features);

/** A top-weight candidate of an explanation; its feature string is spelled only when needed. */
interface Heavy {
  i: number;
  w: number;
  feature: string | null;
}

/** The slots of a message's features (inserting never-seen ones when `insert`). */
function slotsOf(table: FeatureTable, hashes: ArrayLike<number>, insert: boolean): number[] {
  // Insert first: growing the table moves slots.
  if (insert) for (let j = 0; j < hashes.length; j++) table.insert(hashes[j] as number);
  const slots: number[] = [];
  for (let j = 0; j < hashes.length; j++) {
    const i = table.find(hashes[j] as number);
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
  // Reused by every score: a message's weights, so scoring allocates nothing per feature.
  private weightScratch = new Float64Array(1024);

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

  /** The uncalibrated margin z of a message's features, evidence scaling applied. */
  margin(features: FeatureInput): number {
    const v = vectorOf(features);
    const { sum, known } = this.weigh(v, null);
    return evidenceMargin(this.bias, sum, v.hashes.length, known, this.params.evidenceK);
  }

  /**
   * The known weight of each feature (NaN: unknown), in a scratch array valid until the next call. All
   * lookups run in one loop of nothing but independent lookups: the table is tens of megabytes, so each is a
   * cache miss, and such a loop lets the CPU wait for many of them at once.
   */
  private knownWeights(hashes: ArrayLike<number>): Float64Array {
    const n = hashes.length;
    if (this.weightScratch.length < n) this.weightScratch = new Float64Array(n * 2);
    const weights = this.weightScratch;
    const table = this.table;
    for (let i = 0; i < n; i++) weights[i] = table.knownWeight(hashes[i] as number) ?? Number.NaN;
    return weights;
  }

  /**
   * The sum and count of the known features' weights; with `top`, also keeps there the EXPLAIN heaviest,
   * sorted by |weight| descending, ties by feature string (insertion into a short list; a string is spelled
   * only to break a tie or for the final list).
   */
  private weigh(v: FeatureVector, top: Heavy[] | null) {
    let floor = 0;
    let sum = 0;
    let known = 0;
    const n = v.hashes.length;
    const weights = this.knownWeights(v.hashes);
    for (let i = 0; i < n; i++) {
      const w = weights[i] as number;
      if (Number.isNaN(w)) continue;
      sum += w;
      known++;
      if (top === null) continue;
      const m = Math.abs(w);
      if (m === 0 || (top.length === EXPLAIN && m <= floor)) continue;
      let feature: string | null = null;
      let k = top.length;
      while (k > 0) {
        const prev = top[k - 1] as Heavy;
        const pm = Math.abs(prev.w);
        if (pm > m) break;
        if (pm === m) {
          prev.feature ??= v.name(prev.i);
          feature ??= v.name(i);
          if (prev.feature < feature) break;
        }
        k--;
      }
      top.splice(k, 0, { i, w, feature });
      if (top.length > EXPLAIN) top.pop();
      if (top.length === EXPLAIN) floor = Math.abs((top[EXPLAIN - 1] as Heavy).w);
    }
    return { sum, known };
  }

  /** The calibrated spam probability of a margin: sigmoid(a * (z - t)). */
  probability(z: number): number {
    return sigmoid(this.params.a * (z - this.params.t));
  }

  /** The margin at which the calibrated probability is `score` (the inverse of `probability`). */
  marginAt(score: number): number {
    return this.params.t + Math.log(score / (1 - score)) / this.params.a;
  }

  score(features: FeatureInput): ScoreResult {
    const v = vectorOf(features);
    const n = v.hashes.length;
    const top: Heavy[] = [];
    const { sum, known } = this.weigh(v, top);
    const { a, evidenceK } = this.params;
    const factor = evidenceFactor(known, evidenceK);
    const scale = n === 0 ? 0 : factor / Math.sqrt(n);
    const score = this.probability(evidenceMargin(this.bias, sum, n, known, evidenceK));
    const topFeatures: FeatureWeight[] = top.map((f) => ({
      feature: f.feature ?? v.name(f.i),
      weight: Number((f.w * scale * a).toFixed(4)),
    }));
    const evidence = { known, features: n, factor: Number(factor.toFixed(3)) };
    return { score, spam: score >= 0.5, topFeatures, evidence };
  }

  /** One feedback step toward `label` (sign +1) or back from it (sign -1). */
  private feedback(features: FeatureInput, label: Label, sign: 1 | -1): void {
    const { hashes } = vectorOf(features);
    const slots = slotsOf(this.table, hashes, sign === 1);
    if (slots.length === 0) return;
    const table = this.table;
    const g = 1 / Math.sqrt(hashes.length);
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

  learn(features: FeatureInput, label: Label): void {
    this.feedback(features, label, 1);
    if (label === 'spam') this.nSpam++;
    else this.nHam++;
  }

  unlearn(features: FeatureInput, label: Label): void {
    if ((label === 'spam' ? this.nSpam : this.nHam) === 0) return;
    this.feedback(features, label, -1);
    if (label === 'spam') this.nSpam--;
    else this.nHam--;
  }

  /** The uncompressed artefact body (also what the version digest is taken of). */
  private body(): Buffer {
    return encodeLinearBody(this);
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
  const state = decodeLinearBody(body);
  const model = new LinearModel(state.params, state.version, state.table);
  model.bias = state.bias;
  model.nSpam = state.nSpam;
  model.nHam = state.nHam;
  return model;
}
