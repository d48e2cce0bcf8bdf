import type { FeatureWeight } from '../classifier/types.js';

/** What the verdict cache keeps for one (model version, content hash): the score, not the action, because
 * the action depends on per-recipient policy. */
export interface CachedVerdict {
  score: number;
  topFeatures: FeatureWeight[];
}

export interface VerdictCache {
  /** Never throws: a Redis failure is a counted miss. */
  get(modelVersion: string, contentHash: string): Promise<CachedVerdict | null>;
  /** Never throws. */
  set(modelVersion: string, contentHash: string, verdict: CachedVerdict): Promise<void>;
  /** Drops the entry in both tiers (feedback on this content). Never throws. */
  invalidate(modelVersion: string, contentHash: string): Promise<void>;
  close(): Promise<void>;
}
