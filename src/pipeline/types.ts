/** The scanner's contract, shared by the SMTP path, `POST /api/v1/scan` and feedback. */
import type { FeatureWeight, Label, MessageFeatures, SpamModel } from '../classifier/types.js';

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
   * then learns, and drops the cached verdict for that content. `scanned` is the part of `raw` the model
   * read (at most scanner.maxScanBytes): what feedback keeps to replay and train on. */
  learn(raw: Buffer, label: Label, previous: Label | null): Promise<{ contentHash: string; scanned: Buffer }>;
  /** The same lesson for `model`, which need not be the active one (feedback replayed onto a version before
   * it is swapped in). `contentHash` is given because `raw` may be a kept prefix, which hashes differently. */
  learnInto(
    model: SpamModel,
    lesson: { raw: Buffer; label: Label; previous: Label | null; contentHash: string },
  ): Promise<void>;
  /** Hash of the normalised content (the cache key and feedback key). */
  contentHash(raw: Buffer): string;
  close(): Promise<void>;
}
