/** The scanner's contract, shared by the SMTP path, `POST /api/v1/scan` and feedback. */
import type { FeatureWeight, Label, MessageFeatures } from '../classifier/types.js';

export interface ScanOutcome {
  score: number;
  spam: boolean;
  modelVersion: string;
  topFeatures: FeatureWeight[];
  contentHash: string;
  /** Subject, From, Message-ID … as parsed (null when served from cache: parse was skipped). */
  features: MessageFeatures | null;
  cached: boolean;
  scanMs: number;
}

export interface Scanner {
  /** Parse + features + score (with the verdict cache). Throws on classifier failure or timeout. */
  scan(raw: Buffer): Promise<ScanOutcome>;
  /** Teaches the active model (feedback): unlearns an earlier opposite label for the same content,
   * then learns, and drops the cached verdict for that content. */
  learn(raw: Buffer, label: Label, previous: Label | null): Promise<{ contentHash: string }>;
  /** Hash of the normalised content (the cache key and feedback key). */
  contentHash(raw: Buffer): string;
  close(): Promise<void>;
}
