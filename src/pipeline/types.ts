/** The scanner's contract, shared by the SMTP path, `POST /api/v1/scan` and feedback. */
import type { Evidence, FeatureWeight, Label, MessageFeatures, SpamModel } from '../classifier/types.js';
import type { FeedbackLedger, FeedbackPosition } from './feedback-ledger.js';

/** A feedback row as a model learns it. */
export interface FeedbackLesson extends FeedbackPosition {
  /** The bytes learned from (at most scanner.maxScanBytes). */
  raw: Buffer;
  label: Label;
  /** The label given to the same content just before this row (null: none): un-learned first. */
  previous: Label | null;
  /** The auth signals the message had when it was scanned (from its log row; [] when unknown). */
  authSignals: readonly string[];
  /** Those of the row `previous` came from, un-learned with it. */
  previousAuthSignals: readonly string[];
}

/** The auth signals a lesson is learned with: the message's at scan time, and the previous row's. */
export interface LessonAuth {
  signals: readonly string[];
  previous: readonly string[];
}

export interface ScanOutcome {
  score: number;
  spam: boolean;
  modelVersion: string;
  topFeatures: FeatureWeight[];
  /** How much the verdict rests on (see classifier/types.ts); absent for models that do not measure it. */
  evidence?: Evidence;
  contentHash: string;
  /** Subject, From, Message-ID … as parsed (null when served from cache: parse was skipped). */
  features: MessageFeatures | null;
  cached: boolean;
  scanMs: number;
}

export interface Scanner {
  /** Parse + features + score (with the verdict cache). `authSignals`: the message's sender-authentication
   * signals (auth/signals.ts), scored beside its content's features; the cache keys on them too. Throws on
   * classifier failure or timeout. */
  scan(raw: Buffer, authSignals?: readonly string[]): Promise<ScanOutcome>;
  /** Teaches the active model live feedback: unlearns an earlier opposite label for the same content, then
   * learns. `row` is the feedback row the caller records the lesson as (after this resolves): the model's
   * ledger takes it in the same tick as the change, so no sync applies it again and the cache key moves with
   * the weights. `scanned` is the part of `raw` the model read (at most scanner.maxScanBytes): what feedback
   * keeps to replay and train on. `auth`: the signals learned with it (default none). */
  learn(
    raw: Buffer,
    label: Label,
    previous: Label | null,
    row: FeedbackPosition,
    auth?: LessonAuth,
  ): Promise<{ scanned: Buffer }>;
  /** The same lesson, a recorded row, for `model`, which need not be the active one (feedback replayed onto
   * a version before it is swapped in). */
  learnInto(model: SpamModel, lesson: FeedbackLesson): Promise<void>;
  /** The feedback rows `model` has learned through this scanner. Created on first use, starting after
   * `start` (default: now): no sync applies a row at or before it. */
  ledger(model: SpamModel, start?: FeedbackPosition): FeedbackLedger;
  /** Hash of the normalised content (the cache key and feedback key). */
  contentHash(raw: Buffer): string;
  close(): Promise<void>;
}
