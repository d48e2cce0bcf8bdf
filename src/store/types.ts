/**
 * The storage contract used by the SMTP path and the API. Implemented over Kysely (pg or PGlite).
 * Timestamps are `Date`; ids are UUIDs as strings.
 */

import type { AuthRecord } from '../auth/types.js';
import type { Evaluation, FeatureWeight, Label } from '../classifier/types.js';
import type { MessageAction } from '../observability/metrics.js';
import type { DigestStore } from './digest.js';
import type { SenderListStore } from './lists.js';
import type { SessionStore } from './sessions.js';
import type { StatsStore } from './stats.js';

/** Final status of a logged message, in the spirit of a tracking center. */
export type DeliveryStatus = 'delivered' | 'deferred' | 'bounced' | 'quarantined' | 'rejected' | 'partial';

export interface MessageLogEntry {
  /** Generated when DATA ends; stamped as X-MailSentra-Id; the `ref` in rejects. */
  id: string;
  receivedAt: Date;
  sessionId: string;
  clientIp: string | null;
  clientHelo: string | null;
  /** Envelope sender; '' is the null sender. */
  mailFrom: string;
  rcptTo: string[];
  messageIdHeader: string | null;
  headerFrom: string | null;
  subject: string | null;
  size: number;
  contentHash: string;
  /** null when the message was not scored (allow/block list, classifier failure). */
  score: number | null;
  action: MessageAction;
  /** Why this action (e.g. `score 0.973 >= quarantine 0.950`, `sender on block list`). */
  reason: string;
  modelVersion: string | null;
  topFeatures: FeatureWeight[];
  scanMs: number | null;
  totalMs: number;
  status: DeliveryStatus;
  /** The next hop's reply or our own reply upstream. */
  response: string | null;
  /** Raw bytes, kept `retention.rawDays` for learning from history; null when not kept. */
  raw: Buffer | null;
  /** Sender authentication; null or absent when it did not run. */
  auth?: AuthRecord | null;
}

export interface MessageFilter {
  action?: MessageAction;
  status?: DeliveryStatus;
  sender?: string;
  recipient?: string;
  subject?: string;
  /** Every delivery of the same content (the verdict-cache and feedback key): who else got this message. */
  contentHash?: string;
  minScore?: number;
  maxScore?: number;
  since?: Date;
  until?: Date;
  /** Opaque cursor from the previous page. */
  cursor?: string;
  limit?: number;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export type MessageSummary = Omit<MessageLogEntry, 'raw'> & { hasRaw: boolean };

export interface MessageLog {
  /** Buffered, off the hot path: never blocks, never throws. */
  record(entry: MessageLogEntry): void;
  /** Writes everything buffered (shutdown, tests). */
  flush(): Promise<void>;
  get(id: string): Promise<MessageSummary | null>;
  getRaw(id: string): Promise<Buffer | null>;
  list(filter: MessageFilter): Promise<Page<MessageSummary>>;
}

/** held → releasing → released (or back to held when the relay fails); held → deleted. */
export type QuarantineState = 'held' | 'releasing' | 'released' | 'deleted';

export interface QuarantineItem {
  /** One row per recipient. */
  id: string;
  messageId: string;
  recipient: string;
  mailFrom: string;
  subject: string | null;
  headerFrom: string | null;
  score: number | null;
  reason: string;
  size: number;
  state: QuarantineState;
  createdAt: Date;
  expiresAt: Date;
  actedBy: string | null;
  actedAt: Date | null;
}

export interface QuarantineHold {
  messageId: string;
  mailFrom: string;
  recipients: string[];
  subject: string | null;
  headerFrom: string | null;
  score: number | null;
  reason: string;
  raw: Buffer;
  expiresAt: Date;
}

export interface QuarantineFilter {
  state?: QuarantineState;
  sender?: string;
  recipient?: string;
  subject?: string;
  since?: Date;
  until?: Date;
  cursor?: string;
  limit?: number;
}

export interface QuarantineStore {
  /** One transaction: the raw message and one row per recipient. Throws on failure (gates the 250). */
  hold(item: QuarantineHold): Promise<QuarantineItem[]>;
  get(id: string): Promise<QuarantineItem | null>;
  /** The stored raw message of a quarantine row while that row is held or releasing; null after. */
  getRaw(id: string): Promise<Buffer | null>;
  /** The same by the message's log id, while any of its rows is held or releasing; null after. */
  getRawOfMessage(messageId: string): Promise<Buffer | null>;
  list(filter: QuarantineFilter): Promise<Page<QuarantineItem>>;
  /** held → releasing in one statement: the caller that gets the row relays it; everyone else gets null. */
  claimRelease(id: string, actor: string): Promise<QuarantineItem | null>;
  /** releasing → released (relayed) or back to held (the relay failed). */
  completeRelease(id: string, actor: string, relayed: boolean): Promise<QuarantineItem | null>;
  /** held → deleted; returns the rows that changed (a row not held is left alone). */
  remove(ids: string[], actor: string): Promise<QuarantineItem[]>;
  countHeld(): Promise<number>;
}

export interface FeedbackEntry {
  id: string;
  messageId: string | null;
  contentHash: string;
  label: Label;
  actor: string;
  createdAt: Date;
}

/** A feedback row as it is replayed onto a model: the bytes learned from, the label, and what it replaced. */
export interface ReplayableFeedback {
  id: string;
  contentHash: string;
  label: Label;
  /** The label recorded for the same content just before this row (null: none), i.e. what live feedback
   * un-learned when this row was given. */
  previous: Label | null;
  raw: Buffer;
  createdAt: Date;
  /** The auth signals learned with this row, and with the `previous` one (un-learned with it). */
  authSignals: string[];
  previousAuthSignals: string[];
}

/** One training example from feedback: the latest label of a content hash, with its bytes. */
export interface TrainingFeedback {
  contentHash: string;
  label: Label;
  raw: Buffer;
  /** The auth signals of the labelled row (features `x:<name>`, classifier/signals.ts signalFeatures). */
  authSignals: string[];
}

export interface FeedbackStore {
  /** `raw`: the bytes the model learned from (the caller caps them at scanner.maxScanBytes); null when
   * there are none to keep. */
  record(
    entry: Omit<FeedbackEntry, 'id' | 'createdAt'> & {
      raw: Buffer | null;
      /** The auth signals the lesson was learned with ([]: none). */
      authSignals?: readonly string[];
      /** Given when the caller applied the row before recording it (live feedback); else generated. */
      id?: string;
      createdAt?: Date;
    },
  ): Promise<FeedbackEntry>;
  /** The last label given to this content, and the auth signals it was learned with, to turn a relabel into
   * unlearn + learn. */
  latestLabel(contentHash: string): Promise<{ label: Label; authSignals: string[] } | null>;
  /**
   * Feedback with raw bytes recorded after `after` (everything when null), oldest first by (created_at, id):
   * only the `limit` most recent such rows. Read in pages, so at most one page of raw bytes is in memory.
   */
  replayable(after: Date | null, limit: number): AsyncIterable<ReplayableFeedback>;
  /**
   * Feedback with raw bytes positioned after `after` in (created_at, id) order, except the rows `exclude`
   * names, oldest first; paged like `replayable`, without a cap (feedback sync: what came since the last read).
   */
  replayableAfter(
    after: { createdAt: Date; id: string },
    exclude: readonly string[],
  ): AsyncIterable<ReplayableFeedback>;
  /**
   * For training: the latest label of each content hash as of `until` (rows after it are left out), with
   * raw bytes of that content; the `limit` most recently labelled hashes, oldest first. Paged like
   * `replayable`. A hash whose rows all lack raw bytes (older than migration 0004) is skipped.
   */
  forTraining(until: Date, limit: number): AsyncIterable<TrainingFeedback>;
}

export interface ModelRecord {
  version: string;
  createdAt: Date;
  trainingSet: string;
  evaluation: Evaluation | null;
  active: boolean;
  sizeBytes: number;
}

export interface ModelStore {
  save(record: {
    version: string;
    trainingSet: string;
    evaluation: Evaluation | null;
    artefact: Buffer;
    /** Default now. A version trained with feedback passes the time its feedback was read: replay onto it
     * starts there (see pipeline/feedback-replay.ts). */
    createdAt?: Date;
  }): Promise<ModelRecord>;
  list(): Promise<ModelRecord[]>;
  get(version: string): Promise<ModelRecord | null>;
  getArtefact(version: string): Promise<Buffer | null>;
  getActive(): Promise<ModelRecord | null>;
  /** Makes `version` the only active one; throws when it does not exist. */
  activate(version: string): Promise<ModelRecord>;
  /** Runs `fn` under a Postgres advisory lock; returns null at once when another holder has it. */
  withTrainingLock<T>(fn: () => Promise<T>): Promise<T | null>;
}

export type Role = 'admin' | 'analyst';

export interface ApiKeyRecord {
  id: string;
  role: Role;
  label: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface KeyStore {
  /** Returns the key in clear once; only its hash is stored. */
  create(role: Role, label?: string | null): Promise<{ record: ApiKeyRecord; key: string }>;
  /** Ensures a key with this exact value exists as admin (ADMIN_API_KEY bootstrap). */
  ensure(key: string, role: Role): Promise<ApiKeyRecord>;
  /** Valid, unrevoked key → its record (and last-used time updated); otherwise null. */
  verify(key: string): Promise<ApiKeyRecord | null>;
  revoke(id: string): Promise<boolean>;
  list(): Promise<ApiKeyRecord[]>;
}

export interface AuditEntry {
  id: string;
  at: Date;
  actor: string;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
}

export interface AuditLog {
  write(entry: Omit<AuditEntry, 'id' | 'at'>): Promise<void>;
  list(limit?: number): Promise<AuditEntry[]>;
}

/** Everything storage gives the rest of the service. */
export interface Storage {
  messages: MessageLog;
  lists: SenderListStore;
  sessions: SessionStore;
  digest: DigestStore;
  stats: StatsStore;
  quarantine: QuarantineStore;
  feedback: FeedbackStore;
  models: ModelStore;
  keys: KeyStore;
  audit: AuditLog;
  /** Database reachable (for /ready). */
  ping(): Promise<boolean>;
  /** Flushes the log buffer, stops the purge job, closes the pool. */
  close(): Promise<void>;
}
