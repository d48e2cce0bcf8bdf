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
 * Feedback: `learn` and `unlearn` never write the trained weights. What a site's reports teach is kept in
 * site copies of the features (site-weights.ts), added to the margin beside the trained weights; each
 * report is a logistic step scaled by the model's error on it, and an un-learn takes back the step its
 * learn took.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip, gzipSync } from 'node:zlib';
import { fnv1a, sigmoid } from './common.js';
import { vectorOf } from './feature-list.js';
import { FeatureTable } from './feature-table.js';
import { decodeLinearBody, encodeLinearBody } from './linear-format.js';
import { type SiteParams, SiteWeights, strongestPulls } from './site-weights.js';
import type { FeatureInput, FeatureVector, FeatureWeight, Label, ScoreResult, SpamModel } from './types.js';

const gzipAsync = promisify(gzip);

export interface LinearParams extends SiteParams {
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
  feedbackEta: 2,
  feedbackAccum: 1,
  signalsNonNegative: true,
  feedbackHold: 1,
  feedbackHam: 2,
  feedbackGrow: 10,
  feedbackError: true,
};

/**
 * The feedback rule is the software's, not the artefact's: feedback never writes trained weights, so a
 * loaded version (a shipped default model, an older one) learns its site's reports as this release does.
 */
export function withCurrentFeedback(params: LinearParams): LinearParams {
  const { feedbackEta, feedbackAccum, feedbackHold, feedbackHam, feedbackGrow, feedbackError } =
    DEFAULT_LINEAR_PARAMS;
  return { ...params, feedbackEta, feedbackAccum, feedbackHold, feedbackHam, feedbackGrow, feedbackError };
}

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

/** A top-weight candidate of an explanation; its feature string is spelled only when needed. */
interface Heavy {
  i: number;
  w: number;
  feature: string | null;
}

export class LinearModel implements SpamModel {
  version: string;
  params: LinearParams;
  bias = 0;
  /** Labelled messages the weights were trained or taught on. */
  nSpam = 0;
  nHam = 0;
  table: FeatureTable;
  /** The site's copies of the features, learned from feedback only (site-weights.ts). */
  site = new SiteWeights();
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
    // The trained weights are final here: feedback writes only the site copies.
    table.sealKnown();
  }

  get vocabularySize(): number {
    return this.table.size;
  }

  /** The uncalibrated margin z of a message's features, evidence scaling applied, site copies added. */
  margin(features: FeatureInput): number {
    const v = vectorOf(features);
    return this.trainedMargin(v) + this.site.margin(v, this.params);
  }

  /** The margin of the trained weights alone (the reference every feedback step is taken from). */
  private trainedMargin(v: FeatureVector): number {
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
    // One pass over the site copies gives both their pull and the explanation's (as site.margin sums them).
    const taught = this.site.weigh(v, EXPLAIN, this.params);
    const site = n === 0 ? 0 : taught.sum / Math.sqrt(n);
    const score = this.probability(evidenceMargin(this.bias, sum, n, known, evidenceK) + site);
    const trained = top.map((f) => ({ feature: f.feature ?? v.name(f.i), trained: f.w * scale, site: 0 }));
    const pulls =
      taught.top.length === 0
        ? trained
        : strongestPulls(
            trained,
            taught.top,
            (feature) => (this.table.knownWeight(fnv1a(feature)) ?? 0) * scale,
            1 / Math.sqrt(n),
            EXPLAIN,
          );
    const topFeatures: FeatureWeight[] = pulls.map((p) => ({
      feature: p.feature,
      weight: Number(((p.trained + p.site) * a).toFixed(4)),
    }));
    const evidence = { known, features: n, factor: Number(factor.toFixed(3)) };
    return { score, spam: score >= 0.5, topFeatures, evidence };
  }

  /** One report toward `label` (sign +1) or taken back (sign -1), into the site copies (site-weights.ts). */
  private feedback(features: FeatureInput, label: Label, sign: 1 | -1): void {
    const v = vectorOf(features);
    const table = this.table;
    const y = label === 'spam' ? 1 : 0;
    const error = () => Math.abs(y - this.probability(this.margin(v)));
    const accum = (hash: number) => {
      const i = table.find(hash);
      return i < 0 ? 0 : (table.accum[i] as number);
    };
    this.site.step(v, label === 'spam' ? 1 : -1, sign, { error, accum }, this.params);
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

  serializeAsync(): Promise<Buffer> {
    return gzipAsync(this.body(), { level: 1 });
  }

  /** sha256 of the artefact's content (hex). */
  digest(): string {
    return createHash('sha256').update(this.body()).digest('hex');
  }
}

/** Reads an MSM2 artefact body (already gunzipped, magic checked). */
export function deserializeLinearModel(body: Buffer): LinearModel {
  const state = decodeLinearBody(body);
  const model = new LinearModel(withCurrentFeedback(state.params), state.version, state.table);
  model.bias = state.bias;
  model.nSpam = state.nSpam;
  model.nHam = state.nHam;
  model.site = state.site;
  return model;
}
