/** The decision point from held-out margins (src/classifier/threshold.ts): plain logic, plain tests. */
import { describe, expect, it } from 'vitest';
import { chooseDecisionMargin, normalQuantile, tradeOffTable } from '../../src/classifier/threshold.js';

/** Deterministic normal-looking margins: quantiles of N(mean, sd). */
const normal = (n: number, mean: number, sd: number) =>
  Array.from({ length: n }, (_, i) => mean + sd * normalQuantile((i + 0.5) / n));

describe('decision point', () => {
  it('inverts the normal distribution accurately', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(normalQuantile(0.998)).toBeCloseTo(2.878162, 5);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326348, 5);
  });

  it('reads the point off the counted ham where the corpus resolves the target (large corpora)', () => {
    const ham = normal(2000, -6, 2).map((z) => ({ z, label: 'ham' as const }));
    const point = chooseDecisionMargin(ham, 0.002);
    expect(point?.method).toBe('empirical');
    const sorted = ham.map((h) => h.z).sort((a, b) => b - a);
    expect(point?.margin).toBe(sorted[4]); // 4 of 2000 ham above: 0.2 %
  });

  it('on a small corpus, one unusual ham does not set the point: the smoothed tail does', () => {
    const ham = [...normal(99, -6, 2), 9].map((z) => ({ z, label: 'ham' as const }));
    const point = chooseDecisionMargin(ham, 0.002);
    expect(point?.method).toBe('smoothed');
    // Far below the outlier (the counted rule's choice), above every ordinary ham.
    expect(point?.margin).toBeLessThan(9);
    expect(point?.margin).toBeGreaterThan(Math.max(...normal(99, -6, 2)));
  });

  it('moves up with a wider ham distribution and a stricter target', () => {
    const at = (sd: number, target: number) =>
      chooseDecisionMargin(
        normal(200, -6, sd).map((z) => ({ z, label: 'ham' as const })),
        target,
      )?.margin as number;
    expect(at(3, 0.002)).toBeGreaterThan(at(2, 0.002));
    expect(at(2, 0.001)).toBeGreaterThan(at(2, 0.004));
    expect(chooseDecisionMargin([{ z: 1, label: 'spam' }], 0.002)).toBeNull();
  });

  it('tabulates counted and smoothed false positives and recall at score thresholds', () => {
    const held = [
      ...normal(100, -4, 1).map((z) => ({ z, label: 'ham' as const })),
      ...normal(100, 3, 2).map((z) => ({ z, label: 'spam' as const })),
    ];
    // A calibration with slope 1 around margin 0: score 0.5 is margin 0.
    const rows = tradeOffTable(held, (s) => Math.log(s / (1 - s)));
    const half = rows.find((r) => r.score === 0.5);
    expect(half?.fpr).toBe(0);
    expect(half?.smoothedFpr).toBeGreaterThan(0);
    expect(half?.smoothedFpr).toBeLessThan(0.001);
    expect(half?.recall).toBeCloseTo(0.93, 1);
    for (let i = 1; i < rows.length; i++) {
      expect(rows[i]?.recall).toBeLessThanOrEqual(rows[i - 1]?.recall as number);
      expect(rows[i]?.smoothedFpr).toBeLessThanOrEqual(rows[i - 1]?.smoothedFpr as number);
    }
  });
});
