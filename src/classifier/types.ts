/**
 * The classifier's contract with the rest of the service. Feature extraction is pure and model-independent
 * (it can run in a worker thread); the model scores a feature list in time proportional to its length.
 */

export type Label = 'spam' | 'ham';

/** One feature's pull on a verdict: positive toward spam, negative toward ham (log-odds units). */
export interface FeatureWeight {
  feature: string;
  weight: number;
}

/**
 * What a model scores: the 32-bit FNV-1a hashes of distinct feature strings (words, bigrams, header and URL
 * features, signals), and the string of any of them on demand (an explanation names a handful).
 */
export interface FeatureVector {
  readonly hashes: ArrayLike<number>;
  name(i: number): string;
}

/** A model reads features as a vector, or as a list of distinct feature strings. */
export type FeatureInput = FeatureVector | readonly string[];

/**
 * How to spell a message's features (feature-list.ts): recipes[i] = index << 4 | kind << 2 | gap. Kinds 0–2
 * are word features (prefix s:, n:, w: + words[index], and for a gap > 0, that many underscores and
 * words[index + gap]); kind 3 is strings[index]. Plain data, so it crosses a worker thread's boundary.
 */
export interface FeatureSpelling {
  words: string[];
  recipes: Uint32Array;
  strings: string[];
}

/** What a message yields to the classifier and to the verdict log. */
export interface MessageFeatures {
  /** The FNV-1a hash of each distinct feature string, in the order the strings were produced. */
  hashes: Uint32Array;
  /** How to spell each feature's string (feature-list.ts `featureName`, `featureStrings`). */
  spelling: FeatureSpelling;
  /** Decoded Subject, for the verdict log. */
  subject: string | null;
  /** Header From address, for the verdict log. */
  from: string | null;
  /** Message-ID header. */
  messageId: string | null;
  /** True when the message was longer than the scanned prefix. */
  truncated: boolean;
  /** Parse problems worth recording (broken MIME, unknown charset), never fatal. */
  warnings: string[];
}

export interface ScoreResult {
  /** Calibrated spam probability in [0, 1]. */
  score: number;
  /** score >= the model's decision threshold (0.5: the score is calibrated for it). */
  spam: boolean;
  /** The features that weighed most, strongest first (at most ~10). */
  topFeatures: FeatureWeight[];
  /** How much the verdict rests on (absent for models that do not measure it). */
  evidence?: Evidence;
}

/** Features the model knows among the message's, and the share of the margin that counted (k / (k + K)):
 * near 0, the model knew too little of the message to judge it and the score stayed near "unsure". */
export interface Evidence {
  known: number;
  features: number;
  factor: number;
}

export interface SpamModel {
  readonly version: string;
  /** Labelled messages trained or taught on: with the version, what says two copies learned the same. */
  readonly nSpam: number;
  readonly nHam: number;
  score(features: FeatureInput): ScoreResult;
  /** Incremental learning (feedback). */
  learn(features: FeatureInput, label: Label): void;
  /** Undo an earlier learn with the same features and label (relabel = unlearn + learn). */
  unlearn(features: FeatureInput, label: Label): void;
  /** Versioned artefact; `deserialize(serialize())` scores identically. */
  serialize(): Buffer;
  /** The same artefact, compressed off the event loop (encoding the body stays on it). */
  serializeAsync(): Promise<Buffer>;
}

/** Evaluation figures, as printed by `mailsentra eval` and stored with a model version. */
export interface Evaluation {
  messages: number;
  ham: number;
  spam: number;
  threshold: number;
  accuracy: number;
  precision: number;
  recall: number;
  falsePositiveRate: number;
  falsePositives: number;
  falseNegatives: number;
  rocAuc: number;
  recallAtFpr001: number;
  /** On held-out site feedback, when a version was trained with enough of it (see site-feedback.ts). */
  site?: SiteEvaluation;
}

/** One model's figures on held-out site feedback, at the decision point. */
export interface SiteFigures {
  falsePositives: number;
  falseNegatives: number;
  rocAuc: number;
}

/**
 * A candidate and the model it would replace, on the same site feedback the candidate never trained on:
 * activation refuses a candidate with more errors there (unless forced).
 */
export interface SiteEvaluation {
  ham: number;
  spam: number;
  candidate: SiteFigures;
  /** The version active when the candidate was trained, taught the same other feedback. */
  baseline: SiteFigures & { version: string };
}

/** Holds the model in force; swapped atomically on activation. */
export interface ActiveModel {
  current(): SpamModel;
  set(model: SpamModel): void;
  onChange(listener: (model: SpamModel) => void): () => void;
}
