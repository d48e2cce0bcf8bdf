/** Score → action, by the configured thresholds (pure). Reject is checked first, then quarantine, then tag. */
import type { Thresholds } from '../config/schema.js';

export type ScoreAction = 'pass' | 'tag' | 'quarantine' | 'reject';

export function actionForScore(score: number, thresholds: Thresholds): ScoreAction {
  if (thresholds.reject !== null && score >= thresholds.reject) return 'reject';
  if (thresholds.quarantine !== null && score >= thresholds.quarantine) return 'quarantine';
  if (thresholds.tag !== null && score >= thresholds.tag) return 'tag';
  return 'pass';
}
