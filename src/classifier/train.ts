/**
 * Training: logistic regression (Adagrad) over the hashed features of the labelled set, then calibration on
 * held-out data from the same set (k-fold: each fold is scored by a model trained on the other folds). The
 * decision point is chosen on those held-out scores to keep the false-positive rate under a target, and the
 * logistic slope is fitted on them — so thresholds are never chosen on the data a figure is reported on.
 */

import { fnv1a } from './common.js';
import { featureStrings } from './feature-list.js';
import { FeatureTable } from './feature-table.js';
import { extractFeatures } from './features.js';
import { DEFAULT_LINEAR_PARAMS, evidenceMargin, LinearModel, type LinearParams } from './linear-model.js';
import { versionFor } from './model.js';
import { SIGNAL_PREFIX, SIGNALS } from './signals.js';
import { chooseDecisionMargin } from './threshold.js';
import type { Label } from './types.js';

export interface LabelledMessage {
  raw: Buffer;
  label: Label;
}

export interface LabelledFeatures {
  tokens: readonly string[];
  label: Label;
  /** Times the example is seen per epoch (default 1): a site's own examples weigh more than the corpus's. */
  repeat?: number;
}

export interface TrainOptions {
  maxBytes?: number;
  folds?: number;
  /** Held-out false-positive rate the decision point must respect. */
  targetFpr?: number;
  params?: Partial<LinearParams>;
  versionPrefix?: string;
}

export const DEFAULT_TRAIN: Required<Omit<TrainOptions, 'params'>> = {
  maxBytes: 512_000,
  folds: 5,
  targetFpr: 0.002,
  versionPrefix: 'sa',
};

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

/** A site example is seen at most this many times per epoch (more makes Adagrad's first steps erratic). */
const MAX_REPEAT = 20;

const isContentSignal = (feature: string): number =>
  feature.startsWith(SIGNAL_PREFIX) && feature.slice(SIGNAL_PREFIX.length) in SIGNALS ? 1 : 0;

/** A message as table slots (one per feature string) and its feature count n. */
interface Row {
  slots: Int32Array;
  /** 1 where the feature is a named content signal (signals.ts), else 0. */
  signals: Uint8Array;
  n: number;
  y: 0 | 1;
  repeat: number;
}

/** Inserts every feature of every item into `table` and returns the items as slot rows. */
function toRows(items: readonly LabelledFeatures[], table: FeatureTable): Row[] {
  const hashed = items.map((item) => Uint32Array.from(item.tokens, fnv1a));
  // Insert everything first: growing the table moves slots.
  for (const hashes of hashed) for (const h of hashes) table.insert(h);
  return hashed.map((hashes, k) => {
    const slots = new Int32Array(hashes.length);
    for (let j = 0; j < hashes.length; j++) slots[j] = table.find(hashes[j] as number);
    const item = items[k] as LabelledFeatures;
    const signals = Uint8Array.from(item.tokens, isContentSignal);
    const repeat = Math.max(1, Math.min(MAX_REPEAT, Math.round(item.repeat ?? 1)));
    return { slots, signals, n: hashes.length, y: item.label === 'spam' ? 1 : 0, repeat };
  });
}

interface Fitted {
  weights: Float64Array;
  accum: Float64Array;
  bias: number;
}

/** Adagrad on the logistic loss over `rows` (presence features scaled by 1/sqrt(n)); deterministic. */
function fitWeights(rows: readonly Row[], capacity: number, params: LinearParams): Fitted {
  const weights = new Float64Array(capacity);
  const accum = new Float64Array(capacity).fill(1e-8);
  let bias = 0;
  let biasAccum = 1e-8;
  const { eta, epochs } = params;
  const nonNegative = params.signalsNonNegative;
  const order: number[] = [];
  rows.forEach((row, i) => {
    for (let r = 0; r < row.repeat; r++) order.push(i);
  });
  let seed = params.seed >>> 0 || 1;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  for (let e = 0; e < epochs; e++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const tmp = order[i] as number;
      order[i] = order[j] as number;
      order[j] = tmp;
    }
    for (const r of order) {
      const row = rows[r] as Row;
      const scale = row.n === 0 ? 0 : 1 / Math.sqrt(row.n);
      let sum = 0;
      for (const i of row.slots) sum += weights[i] as number;
      const z = bias + sum * scale;
      const err = 1 / (1 + Math.exp(-z)) - row.y;
      const g = err * scale;
      if (g !== 0) {
        const gg = g * g;
        for (let j = 0; j < row.slots.length; j++) {
          const i = row.slots[j] as number;
          const acc = (accum[i] as number) + gg;
          accum[i] = acc;
          const w = (weights[i] as number) - (eta * g) / Math.sqrt(acc);
          // A named signal means spam by definition: the corpus may find it useless, never a sign of ham.
          weights[i] = nonNegative && row.signals[j] === 1 && w < 0 ? 0 : w;
        }
      }
      if (params.fitBias) {
        biasAccum += err * err;
        bias -= (eta * err) / Math.sqrt(biasAccum);
      }
    }
  }
  return { weights, accum, bias };
}

/** A held-out row's margin: features the fold's model never saw have weight 0 and count as unknown. */
function rowMargin(row: Row, weights: Float64Array | Float32Array, bias: number, evidenceK: number): number {
  let sum = 0;
  let known = 0;
  for (const i of row.slots) {
    const w = weights[i] as number;
    if (w === 0) continue;
    sum += w;
    known++;
  }
  return evidenceMargin(bias, sum, row.n, known, evidenceK);
}

export interface HeldOut {
  z: number;
  label: Label;
}

function heldOutRows(rows: readonly Row[], capacity: number, params: LinearParams, folds: number): HeldOut[] {
  const out: HeldOut[] = new Array(rows.length);
  for (let k = 0; k < folds; k++) {
    const fitted = fitWeights(
      rows.filter((_, i) => i % folds !== k),
      capacity,
      params,
    );
    const w32 = Float32Array.from(fitted.weights);
    rows.forEach((row, i) => {
      if (i % folds === k)
        out[i] = { z: rowMargin(row, w32, fitted.bias, params.evidenceK), label: row.y ? 'spam' : 'ham' };
    });
  }
  return out;
}

/** Margin of every item as scored by a model that never saw it (k-fold, the model's training parameters). */
export function heldOutEvidence(
  items: readonly LabelledFeatures[],
  model: LinearModel,
  folds: number,
): HeldOut[] {
  const table = new FeatureTable(model.vocabularySize);
  const rows = toRows(items, table);
  return heldOutRows(rows, table.capacity, model.params, folds);
}

export function trainFromFeatures(
  items: readonly LabelledFeatures[],
  options: TrainOptions = {},
): LinearModel {
  const opts = { ...DEFAULT_TRAIN, ...options };
  const params: LinearParams = { ...DEFAULT_LINEAR_PARAMS, ...options.params };
  const table = new FeatureTable(1 << 16);
  const rows = toRows(items, table);

  const fitted = fitWeights(rows, table.capacity, params);
  for (let i = 0; i < table.capacity; i++) {
    if (table.key(i) === 0) continue;
    table.setWeight(i, fitted.weights[i] as number);
    table.accum[i] = fitted.accum[i] as number;
  }
  const model = new LinearModel(params, 'untrained', table);
  model.bias = fitted.bias;
  for (const row of rows) row.y ? model.nSpam++ : model.nHam++;

  const held = heldOutRows(rows, table.capacity, params, opts.folds);
  // Decision point: the margin that keeps held-out ham false positives within the target (threshold.ts).
  const bar = chooseDecisionMargin(held, opts.targetFpr)?.margin ?? model.bias;
  // Just above that margin, and never at or below the bias, so a message with no known feature scores under 0.5.
  const t = Math.max(model.bias, bar) + 1e-3;
  const { a } = fitLogistic(held.map((h) => ({ z: h.z - t, y: h.label === 'spam' ? 1 : 0 })));
  model.params = { ...params, a: Math.max(1e-4, a), t };
  model.version = versionFor(model, opts.versionPrefix);
  return model;
}

export function featuresOf(
  messages: Iterable<LabelledMessage>,
  maxBytes = DEFAULT_TRAIN.maxBytes,
): LabelledFeatures[] {
  const out: LabelledFeatures[] = [];
  for (const m of messages)
    out.push({ tokens: featureStrings(extractFeatures(m.raw, { maxBytes })), label: m.label });
  return out;
}

export function trainModel(messages: Iterable<LabelledMessage>, options: TrainOptions = {}): LinearModel {
  return trainFromFeatures(featuresOf(messages, options.maxBytes), options);
}
