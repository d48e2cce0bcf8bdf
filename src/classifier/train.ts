/**
 * Training: count features over the labelled set, then calibrate on held-out data from the same set
 * (k-fold: each fold is scored by the counts of the other folds, obtained exactly by subtraction). The
 * decision point is chosen on those held-out scores to keep the false-positive rate under a target, and the
 * logistic slope is fitted on them — so thresholds are never chosen on the data a figure is reported on.
 */

import { extractFeatures } from './features.js';
import { CountModel, DEFAULT_PARAMS, type ModelParams, versionFor } from './model.js';
import type { Label } from './types.js';

export interface LabelledMessage {
  raw: Buffer;
  label: Label;
}

export interface LabelledFeatures {
  tokens: readonly string[];
  label: Label;
}

export interface TrainOptions {
  maxBytes?: number;
  folds?: number;
  /** Held-out false-positive rate the decision point must respect. */
  targetFpr?: number;
  /** Drop features seen fewer times than this in all (artefact size, noise). */
  minCount?: number;
  params?: Partial<ModelParams>;
  versionPrefix?: string;
}

export const DEFAULT_TRAIN: Required<Omit<TrainOptions, 'params'>> = {
  maxBytes: 512_000,
  folds: 5,
  targetFpr: 0.002,
  minCount: 2,
  versionPrefix: 'sa',
};

function countModel(items: readonly LabelledFeatures[], params: ModelParams): CountModel {
  const model = new CountModel(params);
  for (const item of items) model.learn(item.tokens, item.label);
  return model;
}

/** Fits score = sigmoid(a * z + b) by Newton's method on (evidence, label) pairs, with a small L2 penalty so
 * nearly separable held-out data cannot drive the slope to infinity (which would make scores 0/1 steps). */
export function fitLogistic(points: readonly { z: number; y: number }[], l2 = 1): { a: number; b: number } {
  let a = 0.1;
  let b = 0;
  for (let iter = 0; iter < 100; iter++) {
    let ga = l2 * a;
    let gb = l2 * b;
    let haa = l2;
    let hab = 0;
    let hbb = l2;
    for (const { z, y } of points) {
      const p = 1 / (1 + Math.exp(-(a * z + b)));
      const w = p * (1 - p);
      ga += (p - y) * z;
      gb += p - y;
      haa += w * z * z;
      hab += w * z;
      hbb += w;
    }
    const det = haa * hbb - hab * hab;
    if (Math.abs(det) < 1e-12) break;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    a -= da;
    b -= db;
    if (Math.abs(da) < 1e-9 && Math.abs(db) < 1e-9) break;
  }
  return { a, b };
}

export interface HeldOut {
  z: number;
  label: Label;
}

/** Evidence of every item as scored by a model that never saw it (k-fold). */
export function heldOutEvidence(
  items: readonly LabelledFeatures[],
  full: CountModel,
  folds: number,
): HeldOut[] {
  const out: HeldOut[] = new Array(items.length);
  for (let k = 0; k < folds; k++) {
    const inFold = items.filter((_, i) => i % folds === k);
    const without = full.clone();
    without.subtract(countModel(inFold, full.params));
    items.forEach((item, i) => {
      if (i % folds === k) out[i] = { z: without.evidence(item.tokens).evidence, label: item.label };
    });
  }
  return out;
}

export function trainFromFeatures(
  items: readonly LabelledFeatures[],
  options: TrainOptions = {},
): CountModel {
  const opts = { ...DEFAULT_TRAIN, ...options };
  const params: ModelParams = { ...DEFAULT_PARAMS, ...options.params };
  const full = countModel(items, params);
  full.prune(opts.minCount);

  const held = heldOutEvidence(items, full, opts.folds);
  // Decision point: the lowest evidence that keeps held-out ham false positives within the target.
  const hamZ = held
    .filter((h) => h.label === 'ham')
    .map((h) => h.z)
    .sort((p, q) => q - p);
  const allowed = Math.floor(opts.targetFpr * hamZ.length);
  const bar = hamZ[allowed] ?? 0;
  // Just above that ham, and never at or below 0, so a message with no evidence either way scores under 0.5.
  const t = Math.max(0, bar) + 1e-3;
  const { a } = fitLogistic(held.map((h) => ({ z: h.z - t, y: h.label === 'spam' ? 1 : 0 })));
  full.params = { ...params, a: Math.max(1e-4, a), t };
  full.version = versionFor(full, opts.versionPrefix);
  return full;
}

export function featuresOf(
  messages: Iterable<LabelledMessage>,
  maxBytes = DEFAULT_TRAIN.maxBytes,
): LabelledFeatures[] {
  const out: LabelledFeatures[] = [];
  for (const m of messages) out.push({ tokens: extractFeatures(m.raw, { maxBytes }).tokens, label: m.label });
  return out;
}

export function trainModel(messages: Iterable<LabelledMessage>, options: TrainOptions = {}): CountModel {
  return trainFromFeatures(featuresOf(messages, options.maxBytes), options);
}
