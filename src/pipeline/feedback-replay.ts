/**
 * Feedback outlives the process: a version, when it is loaded (at start, on activation through the API or
 * through model sync), is taught again, in order, the feedback recorded since it was created. A version
 * trained with feedback (POST /api/v1/models/train) is created at the moment its feedback was read, so it
 * gets only what came later. Each row is re-learned with the `previous` label live feedback had (unlearn +
 * learn on a relabel), so the model ends exactly where it was before the restart. From there on,
 * feedback-sync.ts keeps it up to date with what other processes record.
 */
import type { SpamModel } from '../classifier/types.js';
import type { Logger } from '../observability/log.js';
import type { FeedbackStore, ModelStore } from '../store/types.js';
import { type FeedbackPosition, MAX_UUID } from './feedback-ledger.js';
import type { Scanner } from './types.js';

/**
 * At most this many rows are replayed: the most recent ones. It bounds the start (each row is parsed again,
 * ~0.2–2 ms) and the memory (rows are read in pages); feedback older than that reaches the model through the
 * next training, which includes it.
 */
export const REPLAY_LIMIT = 10_000;

/**
 * At most this many feedback examples (the most recently labelled contents) join a training, through the API
 * or `mailsentra train`: their features are held in memory beside the corpus's (~4 500 messages).
 */
export const TRAINING_FEEDBACK_LIMIT = 10_000;

export interface ReplayDeps {
  storage: { models: ModelStore; feedback: FeedbackStore };
  /** The replay teaches the model given through learnInto, never through anything that would forward the
   * lesson to other processes (each process replays for itself); the model's ledger records the rows. */
  scanner: Pick<Scanner, 'learnInto' | 'ledger'>;
  logger: Logger;
  limit?: number;
}

/** Teaches `model` the feedback recorded after its version's creation; returns the model. Its ledger then
 * holds those rows, and feedback sync goes on from there. */
export async function withFeedback<M extends SpamModel>(deps: ReplayDeps, model: M): Promise<M> {
  const record = await deps.storage.models.get(model.version);
  // A version outside the registry (tests build such models) has no creation time to start from.
  if (!record) return model;
  const ledger = deps.scanner.ledger(model, { createdAt: record.createdAt, id: MAX_UUID });
  const limit = deps.limit ?? REPLAY_LIMIT;
  const started = performance.now();
  let count = 0;
  let first: FeedbackPosition | null = null;
  for await (const row of deps.storage.feedback.replayable(record.createdAt, limit)) {
    first ??= row;
    await deps.scanner.learnInto(model, row);
    count++;
  }
  // Rows older than the most recent `limit` were left out on purpose: no sync applies them either.
  if (count >= limit && first) ledger.startAfter(first);
  deps.logger.info(
    {
      event: 'FEEDBACK_REPLAYED',
      version: model.version,
      count,
      ms: Math.round(performance.now() - started),
      ...(count >= limit ? { limitReached: limit } : {}),
    },
    'feedback replayed onto the model',
  );
  return model;
}
