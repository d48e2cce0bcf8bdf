/**
 * Where the decision point goes, from held-out margins (each message scored by a model that never saw it).
 *
 * The rule "held-out ham false-positive rate ≤ target" is read off the sorted ham margins when the corpus
 * can resolve the target (at least one ham may lie above the point: target × ham ≥ 1; the SpamAssassin TRAIN
 * split has ~1900 ham for 0.2 %). With fewer ham — a site's own few hundred messages — it can only mean
 * "no held-out ham above the point", so one unusual ham sets the point and recall collapses. There the ham
 * margins' upper tail is smoothed instead: a normal fitted to them (mean, standard deviation) gives the
 * margin whose tail holds `target` of ham. A wide or skewed ham distribution widens the fit, so the point
 * moves up with it; a single outlier moves it far less than it moves the maximum.
 */

import type { Label } from './types.js';

export interface Margin {
  z: number;
  label: Label;
}

export interface DecisionPoint {
  /** The margin at and above which a message is spam (before the caller's own floor, e.g. the bias). */
  margin: number;
  method: 'empirical' | 'smoothed';
}

/** Φ⁻¹(p) (Acklam's rational approximation, |error| < 1.2e-9: far below what a few hundred ham resolve). */
export function normalQuantile(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const poly = (k: number[], x: number) => k.reduce((acc, v) => acc * x + v, 0);
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(c, q) / (poly(d, q) * q + 1);
  }
  if (p > 1 - low) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -poly(c, q) / (poly(d, q) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}

/** Share of a normal(mean, sd) above `t`, via the complementary error function (Numerical Recipes erfc). */
function normalTail(t: number, mean: number, sd: number): number {
  const x = (t - mean) / (sd * Math.SQRT2);
  const z = Math.abs(x);
  const u = 1 / (1 + 0.5 * z);
  const erfc =
    u *
    Math.exp(
      -z * z -
        1.26551223 +
        u *
          (1.00002368 +
            u *
              (0.37409196 +
                u *
                  (0.09678418 +
                    u *
                      (-0.18628806 +
                        u *
                          (0.27886807 +
                            u * (-1.13520398 + u * (1.48851587 + u * (-0.82215223 + u * 0.17087277)))))))),
    );
  return 0.5 * (x >= 0 ? erfc : 2 - erfc);
}

function moments(values: readonly number[]): { mean: number; sd: number } {
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / Math.max(1, values.length - 1);
  return { mean, sd: Math.sqrt(variance) };
}

/** The decision margin for a held-out false-positive rate of `targetFpr`; null without held-out ham. */
export function chooseDecisionMargin(held: readonly Margin[], targetFpr: number): DecisionPoint | null {
  const ham = held
    .filter((h) => h.label === 'ham')
    .map((h) => h.z)
    .sort((p, q) => q - p);
  if (ham.length === 0) return null;
  const allowed = Math.floor(targetFpr * ham.length);
  if (allowed >= 1 || ham.length < 3)
    return { margin: ham[allowed] ?? (ham[0] as number), method: 'empirical' };
  const { mean, sd } = moments(ham);
  return { margin: mean + sd * normalQuantile(1 - targetFpr), method: 'smoothed' };
}

export interface TradeOffRow {
  /** Score threshold (the model's calibrated score; 0.5 is its decision point). */
  score: number;
  /** Held-out ham at or above it: counted, and from the smoothed ham tail. */
  fpr: number;
  smoothedFpr: number;
  recall: number;
}

/**
 * Held-out false-positive rate and recall at score thresholds, for the admin choosing policy thresholds.
 * `margin(score)` maps a score threshold back to its margin (the inverse of the model's calibration).
 */
export function tradeOffTable(
  held: readonly Margin[],
  margin: (score: number) => number,
  scores: readonly number[] = [0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99],
): TradeOffRow[] {
  const ham = held.filter((h) => h.label === 'ham').map((h) => h.z);
  const spam = held.filter((h) => h.label === 'spam').map((h) => h.z);
  const fit = ham.length >= 2 ? moments(ham) : null;
  return scores.map((score) => {
    const t = margin(score);
    return {
      score,
      fpr: ham.length === 0 ? 0 : ham.filter((z) => z >= t).length / ham.length,
      smoothedFpr: fit ? normalTail(t, fit.mean, fit.sd) : 0,
      recall: spam.length === 0 ? 0 : spam.filter((z) => z >= t).length / spam.length,
    };
  });
}

export function formatTradeOff(rows: readonly TradeOffRow[], ham: number, spam: number): string {
  const pct = (v: number) => `${(v * 100).toFixed(2).padStart(6)} %`;
  const lines = [
    `held-out trade-off (${ham} ham, ${spam} spam; tag/quarantine/reject thresholds are scores):`,
    '  score >=   ham flagged (counted)  (smoothed)   spam caught',
    ...rows.map(
      (r) =>
        `  ${r.score.toFixed(2).padStart(8)}   ${pct(r.fpr).padStart(20)}  ${pct(r.smoothedFpr).padStart(10)}   ${pct(r.recall).padStart(11)}${r.score === 0.5 ? '   <- decision point' : ''}`,
    ),
  ];
  return lines.join('\n');
}
