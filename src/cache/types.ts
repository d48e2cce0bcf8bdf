import type { Evidence, FeatureWeight } from '../classifier/types.js';

/** What the verdict cache keeps for one (model state, content hash): the score, not the action, because
 * the action depends on per-recipient policy. */
export interface CachedVerdict {
  score: number;
  topFeatures: FeatureWeight[];
  evidence?: Evidence;
}

/**
 * Keyed by the model state that scored (`scope`: the version and the feedback it has learned, see
 * `cacheScope` in pipeline/scan.ts) and the message (`key`: its content hash and its auth signals, see
 * `verdictKey`). Feedback changes the scope, so a verdict can be shared only between processes whose models
 * agree; nothing is ever invalidated.
 */
export interface VerdictCache {
  /** Never throws: a Redis failure is a counted miss. */
  get(scope: string, key: string): Promise<CachedVerdict | null>;
  /** Never throws. */
  set(scope: string, key: string, verdict: CachedVerdict): Promise<void>;
  close(): Promise<void>;
}
