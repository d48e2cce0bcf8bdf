/**
 * Live feedback (POST /api/v1/feedback, a quarantine release with learnAsHam): teach the active model, record
 * the row with the bytes learned from, tell the other processes. The row's id is chosen first and the
 * model's ledger takes it with the lesson, before the row exists in the database: no feedback sync of this
 * process can read the row before it knows it has learned it.
 */
import { randomUUID } from 'node:crypto';
import { signalNames } from '../auth/signals.js';
import type { Label } from '../classifier/types.js';
import type { Metrics } from '../observability/metrics.js';
import type { FeedbackEntry, FeedbackStore, MessageLog } from '../store/types.js';
import type { Scanner } from './types.js';

export interface FeedbackDeps {
  /** `messages`: the log row of a message given by id, for the auth signals it was scanned with. */
  storage: { feedback: FeedbackStore; messages: Pick<MessageLog, 'get'> };
  scanner: Scanner;
  metrics: Metrics;
  /** Told each recorded row's id, so the other processes apply it now (null: they find it at their check).
   * Must not reject. */
  feedbackSync: { announce(id: string): Promise<void> } | null;
}

export async function giveFeedback(
  deps: FeedbackDeps,
  input: { raw: Buffer; label: Label; messageId: string | null; actor: string },
): Promise<{ entry: FeedbackEntry; previous: Label | null }> {
  const { raw, label } = input;
  const hash = deps.scanner.contentHash(raw);
  const latest = await deps.storage.feedback.latestLabel(hash);
  const previous = latest?.label ?? null;
  // Learned with the auth results the message was scored with (the log row's); a message given raw has none
  // known, and a log row past retention leaves the content alone to learn.
  const logged = input.messageId ? await deps.storage.messages.get(input.messageId) : null;
  const authSignals = signalNames(logged?.auth ?? null);
  const row = { id: randomUUID(), createdAt: new Date() };
  const { scanned } = await deps.scanner.learn(raw, label, previous, row, {
    signals: authSignals,
    previous: latest?.authSignals ?? [],
  });
  // Kept with the bytes learned from, so every process applies it, and it is replayed and trained on.
  const entry = await deps.storage.feedback.record({
    ...row,
    messageId: input.messageId,
    contentHash: hash,
    label,
    actor: input.actor,
    raw: scanned,
    authSignals,
  });
  deps.metrics.feedback.inc({ label });
  // Not awaited: while Redis reconnects a publish can wait seconds, and the answer need not (announce never
  // rejects; without the message, the others find the row at their periodic check).
  void deps.feedbackSync?.announce(entry.id);
  return { entry, previous };
}
