/**
 * The count model of earlier releases (artefact format MSM1), kept so that stored MSM1 versions still load
 * and score exactly as they did; new versions are LinearModel (MSM2, linear-model.ts).
 *
 * The spam model: per-feature spam/ham message counts (exact learn and un-learn), Robinson's smoothed
 * token probability f(w) — which pulls rarely seen tokens toward 0.5 — and a combination over only the
 * strongest clues (as SpamBayes and SpamAssassin's Bayes do), turned into a probability by a logistic
 * calibration fitted on held-out training data. Mail unlike anything seen has few strong clues, so its
 * evidence is small and its score stays near the neutral point instead of being called spam.
 *
 * Features are stored by a 32-bit FNV-1a hash: scoring costs one Map lookup per token of the message (never
 * a pass over the vocabulary), and the artefact stays small. Explanations use the message's own feature
 * strings, so the hash loses nothing a user sees.
 */
import { gzipSync } from 'node:zlib';
import { fnv1a, ModelError, sigmoid } from './common.js';
import type { FeatureWeight, Label, ScoreResult, SpamModel } from './types.js';

export interface CountParams {
  /** Robinson's strength of the prior toward x (higher: rare tokens count less). */
  s: number;
  /** Robinson's assumed probability for an unseen token. */
  x: number;
  /** Clues with |f - 0.5| below this are ignored. */
  minStrength: number;
  /** At most this many strongest clues are combined. */
  maxClues: number;
  /** How clues combine into evidence: summed log-odds, or Fisher's chi-square (SpamBayes) as log-odds. */
  combine: 'sum' | 'chi2';
  /** Calibration: score = sigmoid(a * (evidence - t)). The decision point 0.5 is evidence = t. */
  a: number;
  t: number;
}

export const DEFAULT_COUNT_PARAMS: CountParams = {
  s: 1,
  x: 0.5,
  minStrength: 0.1,
  maxClues: 150,
  combine: 'chi2',
  a: 1,
  t: 0,
};

const MAGIC = 'MSM1';
const EXPLAIN = 10;

/** ln P(chi² with v degrees of freedom > x2), v even; in logs so strong evidence does not underflow to 0. */
export function logChi2Q(x2: number, v: number): number {
  const m = x2 / 2;
  // sum_{i<v/2} m^i/i! * e^-m, computed as log-sum-exp of its terms.
  let logTerm = -m;
  let logSum = logTerm;
  for (let i = 1; i < v / 2; i++) {
    logTerm += Math.log(m) - Math.log(i);
    const hi = Math.max(logSum, logTerm);
    logSum = hi + Math.log(Math.exp(logSum - hi) + Math.exp(logTerm - hi));
  }
  return Math.min(0, logSum);
}

/** Fisher's combination of clue probabilities, returned as log-odds (continuous, no ties at 0/1). */
function chi2Evidence(clues: readonly Clue[]): number {
  if (clues.length === 0) return 0;
  let lnSpamProduct = 0;
  let lnHamProduct = 0;
  for (const c of clues) {
    const f = 1 / (1 + Math.exp(-c.llr));
    lnHamProduct += Math.log(f);
    lnSpamProduct += Math.log(1 - f);
  }
  const v = 2 * clues.length;
  // S: evidence against "the clues are not spammy"; H likewise for hammy. Both as log of their complements.
  const lnQs = logChi2Q(-2 * lnSpamProduct, v); // ln(1 - S)
  const lnQh = logChi2Q(-2 * lnHamProduct, v); // ln(1 - H)
  // SpamBayes: prob = (S - H + 1) / 2 = (1 - Qs - 1 + Qh + 1)/2 = (1 + Qh - Qs)/2.
  const qs = Math.exp(lnQs);
  const qh = Math.exp(lnQh);
  const prob = (1 + qh - qs) / 2;
  // Log-odds, with the tails taken from the logs so that extreme messages stay ordered.
  const lnP = prob > 0.5 ? Math.log(prob) : Math.log1p(-qs + qh) - Math.LN2;
  const lnOneMinusP = prob < 0.5 ? Math.log(1 - prob) : Math.log1p(qs - qh) - Math.LN2;
  const odds = lnP - lnOneMinusP;
  if (Number.isFinite(odds)) return odds;
  // Fully saturated: order by how far each tail went.
  return lnQs < lnQh ? -lnQs : lnQh;
}

interface Clue {
  feature: string;
  llr: number;
}

export class LegacyCountModel implements SpamModel {
  version: string;
  params: CountParams;
  nSpam = 0;
  nHam = 0;
  private readonly index = new Map<number, number>();
  private spam: Uint32Array;
  private ham: Uint32Array;
  private size = 0;

  constructor(params: CountParams = DEFAULT_COUNT_PARAMS, version = 'untrained', capacity = 1 << 16) {
    this.params = { ...params };
    this.version = version;
    this.spam = new Uint32Array(capacity);
    this.ham = new Uint32Array(capacity);
  }

  get vocabularySize(): number {
    return this.size;
  }

  private slot(hash: number): number {
    let i = this.index.get(hash);
    if (i === undefined) {
      if (this.size === this.spam.length) {
        const spam = new Uint32Array(this.size * 2);
        const ham = new Uint32Array(this.size * 2);
        spam.set(this.spam);
        ham.set(this.ham);
        this.spam = spam;
        this.ham = ham;
      }
      i = this.size++;
      this.index.set(hash, i);
    }
    return i;
  }

  learn(tokens: readonly string[], label: Label): void {
    for (const hash of new Set(tokens.map(fnv1a))) {
      const i = this.slot(hash);
      // Read the array after slot(): growing replaces it.
      const counts = label === 'spam' ? this.spam : this.ham;
      counts[i] = (counts[i] as number) + 1;
    }
    if (label === 'spam') this.nSpam++;
    else this.nHam++;
  }

  unlearn(tokens: readonly string[], label: Label): void {
    if ((label === 'spam' ? this.nSpam : this.nHam) === 0) return;
    const counts = label === 'spam' ? this.spam : this.ham;
    for (const hash of new Set(tokens.map(fnv1a))) {
      const i = this.index.get(hash);
      if (i !== undefined && (counts[i] as number) > 0) counts[i] = (counts[i] as number) - 1;
    }
    if (label === 'spam') this.nSpam--;
    else this.nHam--;
  }

  /** Robinson's f(w) for one feature, or null when never seen. */
  tokenProbability(hash: number): number | null {
    const i = this.index.get(hash);
    if (i === undefined) return null;
    const sc = this.spam[i] as number;
    const hc = this.ham[i] as number;
    const n = sc + hc;
    if (n === 0) return null;
    const spamRatio = sc / Math.max(1, this.nSpam);
    const hamRatio = hc / Math.max(1, this.nHam);
    const p = spamRatio / (spamRatio + hamRatio);
    const { s, x } = this.params;
    return (s * x + n * p) / (s + n);
  }

  /** The strongest clues of a message, strongest first. */
  clues(tokens: readonly string[]): Clue[] {
    const { minStrength, maxClues } = this.params;
    const clues: Clue[] = [];
    const seen = new Set<number>();
    for (const feature of tokens) {
      const hash = fnv1a(feature);
      if (seen.has(hash)) continue;
      seen.add(hash);
      const f = this.tokenProbability(hash);
      if (f === null || Math.abs(f - 0.5) < minStrength) continue;
      const clamped = Math.min(0.99, Math.max(0.01, f));
      clues.push({ feature, llr: Math.log(clamped / (1 - clamped)) });
    }
    clues.sort((p, q) => Math.abs(q.llr) - Math.abs(p.llr) || (p.feature < q.feature ? -1 : 1));
    if (clues.length > maxClues) clues.length = maxClues;
    return clues;
  }

  /** Uncalibrated evidence: the sum of the strongest clues' log-odds. */
  evidence(tokens: readonly string[]): { evidence: number; clues: Clue[] } {
    const clues = this.clues(tokens);
    if (this.params.combine === 'chi2') return { evidence: chi2Evidence(clues), clues };
    let evidence = 0;
    for (const c of clues) evidence += c.llr;
    return { evidence, clues };
  }

  score(tokens: readonly string[]): ScoreResult {
    const { evidence, clues } = this.evidence(tokens);
    const score = sigmoid(this.params.a * (evidence - this.params.t));
    const topFeatures: FeatureWeight[] = clues
      .slice(0, EXPLAIN)
      .map((c) => ({ feature: c.feature, weight: Number((c.llr * this.params.a).toFixed(4)) }));
    return { score, spam: score >= 0.5, topFeatures };
  }

  /** A deep copy (training folds, what-if scoring). */
  clone(): LegacyCountModel {
    const copy = new LegacyCountModel(this.params, this.version, 16);
    copy.nSpam = this.nSpam;
    copy.nHam = this.nHam;
    copy.index.clear();
    for (const [hash, i] of this.index) copy.index.set(hash, i);
    copy.spam = this.spam.slice();
    copy.ham = this.ham.slice();
    copy.size = this.size;
    return copy;
  }

  /** Subtracts another model's counts (leave-one-fold-out during calibration). */
  subtract(other: LegacyCountModel): void {
    for (const [hash, j] of other.index) {
      const i = this.index.get(hash);
      if (i === undefined) continue;
      this.spam[i] = Math.max(0, (this.spam[i] as number) - (other.spam[j] as number));
      this.ham[i] = Math.max(0, (this.ham[i] as number) - (other.ham[j] as number));
    }
    this.nSpam -= other.nSpam;
    this.nHam -= other.nHam;
  }

  /** Drops features seen fewer than `minCount` times in all (training-time pruning, keeps the artefact small). */
  prune(minCount: number): void {
    const keep: [number, number][] = [];
    for (const [hash, i] of this.index) {
      if ((this.spam[i] as number) + (this.ham[i] as number) >= minCount) keep.push([hash, i]);
    }
    const spam = new Uint32Array(Math.max(16, keep.length));
    const ham = new Uint32Array(Math.max(16, keep.length));
    this.index.clear();
    keep.forEach(([hash, i], j) => {
      spam[j] = this.spam[i] as number;
      ham[j] = this.ham[i] as number;
      this.index.set(hash, j);
    });
    this.spam = spam;
    this.ham = ham;
    this.size = keep.length;
  }

  /** Replaces all counts (deserialisation). */
  loadCounts(keys: Uint32Array, spam: Uint32Array, ham: Uint32Array): void {
    this.index.clear();
    for (let i = 0; i < keys.length; i++) this.index.set(keys[i] as number, i);
    const capacity = Math.max(16, keys.length);
    this.spam = new Uint32Array(capacity);
    this.ham = new Uint32Array(capacity);
    this.spam.set(spam);
    this.ham.set(ham);
    this.size = keys.length;
  }

  serialize(): Buffer {
    const keys = new Uint32Array(this.size);
    for (const [hash, i] of this.index) keys[i] = hash;
    const header = Buffer.from(
      JSON.stringify({
        version: this.version,
        params: this.params,
        nSpam: this.nSpam,
        nHam: this.nHam,
        size: this.size,
      }),
    );
    const head = Buffer.alloc(8);
    head.write(MAGIC, 0, 'latin1');
    head.writeUInt32LE(header.length, 4);
    const body = Buffer.concat([
      head,
      header,
      Buffer.from(keys.buffer, 0, this.size * 4),
      Buffer.from(this.spam.buffer, 0, this.size * 4),
      Buffer.from(this.ham.buffer, 0, this.size * 4),
    ]);
    return gzipSync(body, { level: 6 });
  }
}

/** Reads an MSM1 artefact body (already gunzipped, magic checked). */
export function deserializeCountModel(body: Buffer): LegacyCountModel {
  const headerLength = body.readUInt32LE(4);
  const header = JSON.parse(body.toString('utf8', 8, 8 + headerLength)) as {
    version: string;
    params: CountParams;
    nSpam: number;
    nHam: number;
    size: number;
  };
  const { size } = header;
  const offset = 8 + headerLength;
  if (body.length !== offset + size * 12) throw new ModelError('model artefact is truncated');
  // Copy out of the (possibly unaligned) buffer.
  const ints = (start: number) =>
    new Uint32Array(body.buffer.slice(body.byteOffset + start, body.byteOffset + start + size * 4));
  const model = new LegacyCountModel(header.params, header.version, 16);
  model.nSpam = header.nSpam;
  model.nHam = header.nHam;
  model.loadCounts(ints(offset), ints(offset + size * 4), ints(offset + size * 8));
  return model;
}
