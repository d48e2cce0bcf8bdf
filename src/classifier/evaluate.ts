/** Evaluation figures of a model on a labelled set, at the model's decision point (score 0.5). */
import type { Evaluation, Label } from './types.js';

export interface Scored {
  score: number;
  label: Label;
}

/** ROC AUC by the rank-sum (Mann–Whitney) statistic, ties counted half. */
export function rocAuc(items: readonly Scored[]): number {
  const sorted = [...items].sort((a, b) => a.score - b.score);
  let rankSumSpam = 0;
  let nSpam = 0;
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as Scored).score === (sorted[i] as Scored).score) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if ((sorted[k] as Scored).label === 'spam') {
        rankSumSpam += avgRank;
        nSpam++;
      }
    }
    i = j + 1;
  }
  const nHam = sorted.length - nSpam;
  if (nSpam === 0 || nHam === 0) return Number.NaN;
  return (rankSumSpam - (nSpam * (nSpam + 1)) / 2) / (nSpam * nHam);
}

/** Highest recall reachable while false positives stay within `maxFpr` of ham. */
export function recallAtFpr(items: readonly Scored[], maxFpr: number): number {
  const ham = items
    .filter((x) => x.label === 'ham')
    .map((x) => x.score)
    .sort((a, b) => b - a);
  const spam = items.filter((x) => x.label === 'spam').map((x) => x.score);
  if (spam.length === 0) return Number.NaN;
  const allowed = Math.floor(maxFpr * ham.length);
  // Spam must score strictly above the (allowed+1)-th highest ham to be caught without more false positives.
  const bar = ham[allowed] ?? Number.NEGATIVE_INFINITY;
  return spam.filter((s) => s > bar).length / spam.length;
}

export function summarise(items: readonly Scored[], threshold = 0.5): Evaluation {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (const { score, label } of items) {
    const spam = score >= threshold;
    if (label === 'spam') spam ? tp++ : fn++;
    else spam ? fp++ : tn++;
  }
  const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);
  return {
    messages: items.length,
    ham: tn + fp,
    spam: tp + fn,
    threshold,
    accuracy: ratio(tp + tn, items.length),
    precision: ratio(tp, tp + fp),
    recall: ratio(tp, tp + fn),
    falsePositiveRate: ratio(fp, fp + tn),
    falsePositives: fp,
    falseNegatives: fn,
    rocAuc: rocAuc(items),
    recallAtFpr001: recallAtFpr(items, 0.001),
  };
}

export function formatEvaluation(e: Evaluation): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
  return [
    `messages            ${e.messages} (${e.ham} ham, ${e.spam} spam), threshold ${e.threshold}`,
    `accuracy            ${pct(e.accuracy)}`,
    `precision           ${pct(e.precision)}`,
    `recall              ${pct(e.recall)}  (${e.falseNegatives} spam missed)`,
    `false-positive rate ${pct(e.falsePositiveRate)}  (${e.falsePositives} ham flagged)`,
    `ROC AUC             ${e.rocAuc.toFixed(5)}`,
    `recall @ FPR<=0.1 % ${pct(e.recallAtFpr001)}`,
  ].join('\n');
}
