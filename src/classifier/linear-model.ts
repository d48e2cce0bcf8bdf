/**
 * The spam model: logistic regression over the message's hashed sparse features (binary presence, the
 * feature vector scaled to unit length: each present feature counts 1/sqrt(n) for a message of n features),
 * trained by Adagrad. Scoring costs one hash-table probe per feature of the message (never a pass over the
 * vocabulary); the margin z = bias + sum of the present features' weights / sqrt(n) is turned into a
 * probability by a logistic calibration fitted on held-out TRAIN data, score = sigmoid(a * (z - t)), with
 * the decision point 0.5 at z = t, chosen so held-out ham false positives stay within a target.
 *
 * Features are stored by their 32-bit FNV-1a hash in an open-addressing table (feature-table.ts; the stored
 * form is linear-format.ts), so the artefact needs no strings; explanations use the message's own feature
 * strings, so the hash loses nothing a user sees.
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
import { gzipSync } from 'node:zlib';
import { fnv1a, sigmoid } from './common.js';
import { FeatureTable } from './feature-table.js';
import { decodeLinearBody, encodeLinearBody } from './linear-format.js';
import { type SiteParams, SiteWeights, strongestPulls } from './site-weights.js';
import type { FeatureWeight, Label, ScoreResult, SpamModel } from './types.js';

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
  // Reused by every score: a message's hashes and weights, so scoring allocates nothing per feature.
  private hashScratch = new Uint32Array(1024);
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

  /** The uncalibrated margin z of a feature list (its distinct feature strings, as extractFeatures gives),
   * evidence scaling applied. */
  margin(tokens: readonly string[]): number {
    return this.trainedMargin(tokens) + this.site.margin(tokens, this.params);
  }

  /** The margin of the trained weights alone (the reference every feedback step is taken from). */
  private trainedMargin(tokens: readonly string[]): number {
    const { sum, known } = this.weigh(tokens, null);
    return evidenceMargin(this.bias, sum, tokens.length, known, this.params.evidenceK);
  }

  /**
   * The known weight of each token (NaN: unknown), in a scratch array valid until the next call. All hashes
   * are computed before any lookup: the table is tens of megabytes, so each lookup is a cache miss, and a
   * loop of nothing but independent lookups lets the CPU wait for many of them at once (scoring takes less
   * than half the time of hashing and looking up feature by feature).
   */
  private knownWeights(tokens: readonly string[]): Float64Array {
    const n = tokens.length;
    if (this.hashScratch.length < n) {
      this.hashScratch = new Uint32Array(n * 2);
      this.weightScratch = new Float64Array(n * 2);
    }
    const hashes = this.hashScratch;
    const weights = this.weightScratch;
    for (let i = 0; i < n; i++) hashes[i] = fnv1a(tokens[i] as string);
    const table = this.table;
    for (let i = 0; i < n; i++) weights[i] = table.knownWeight(hashes[i] as number) ?? Number.NaN;
    return weights;
  }

  /**
   * The sum and count of the known features' weights; with `top`, also keeps there the EXPLAIN heaviest,
   * sorted by |weight| descending (insertion into a short list).
   */
  private weigh(tokens: readonly string[], top: { feature: string; w: number }[] | null) {
    let floor = 0;
    let sum = 0;
    let known = 0;
    const weights = this.knownWeights(tokens);
    for (let i = 0; i < tokens.length; i++) {
      const w = weights[i] as number;
      if (Number.isNaN(w)) continue;
      const feature = tokens[i] as string;
      sum += w;
      known++;
      if (top === null) continue;
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

  score(tokens: readonly string[]): ScoreResult {
    const top: { feature: string; w: number }[] = [];
    const { sum, known } = this.weigh(tokens, top);
    const { a, evidenceK } = this.params;
    const factor = evidenceFactor(known, evidenceK);
    const scale = tokens.length === 0 ? 0 : factor / Math.sqrt(tokens.length);
    // One pass over the site copies gives both their pull and the explanation's (as site.margin sums them).
    const taught = this.site.weigh(tokens, EXPLAIN, this.params);
    const site = tokens.length === 0 ? 0 : taught.sum / Math.sqrt(tokens.length);
    const score = this.probability(evidenceMargin(this.bias, sum, tokens.length, known, evidenceK) + site);
    const trained = top.map((f) => ({ feature: f.feature, trained: f.w * scale, site: 0 }));
    const pulls =
      taught.top.length === 0
        ? trained
        : strongestPulls(
            trained,
            taught.top,
            (feature) => (this.table.knownWeight(fnv1a(feature)) ?? 0) * scale,
            1 / Math.sqrt(tokens.length),
            EXPLAIN,
          );
    const topFeatures: FeatureWeight[] = pulls.map((p) => ({
      feature: p.feature,
      weight: Number(((p.trained + p.site) * a).toFixed(4)),
    }));
    const evidence = { known, features: tokens.length, factor: Number(factor.toFixed(3)) };
    return { score, spam: score >= 0.5, topFeatures, evidence };
  }

  /** One report toward `label` (sign +1) or taken back (sign -1), into the site copies (site-weights.ts). */
  private feedback(tokens: readonly string[], label: Label, sign: 1 | -1): void {
    const table = this.table;
    const y = label === 'spam' ? 1 : 0;
    const error = () => Math.abs(y - this.probability(this.margin(tokens)));
    const accum = (hash: number) => {
      const i = table.find(hash);
      return i < 0 ? 0 : (table.accum[i] as number);
    };
    this.site.step(tokens, label === 'spam' ? 1 : -1, sign, { error, accum }, this.params);
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
  const model = new LinearModel(withCurrentFeedback(state.params), state.version, state.table);
  model.bias = state.bias;
  model.nSpam = state.nSpam;
  model.nHam = state.nHam;
  model.site = state.site;
  return model;
}
