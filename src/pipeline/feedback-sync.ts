/**
 * Feedback reaches every process, as model activations do (store/model-sync.ts): the process that records a
 * row applies it at once (live) and announces it on a Redis channel; every process, on that message, on a
 * periodic check (the fallback without Redis or for a lost message), after an activation, and when the
 * cluster primary says so, applies from the database the rows its active model has not learned, in
 * (created_at, id) order, through the same learnInto as the replay. Which rows a model has learned is its
 * ledger's business (feedback-ledger.ts): each row is applied to it exactly once, whatever the trigger.
 */
import type { ActiveModel } from '../classifier/types.js';
import type { Logger } from '../observability/log.js';
import { openSyncChannel } from '../store/sync-channel.js';
import type { FeedbackStore } from '../store/types.js';
import type { Scanner } from './types.js';

export const FEEDBACK_CHANNEL = 'mailsentra:feedback';

export interface FeedbackSyncDeps {
  feedback: Pick<FeedbackStore, 'replayableAfter'>;
  scanner: Pick<Scanner, 'learnInto' | 'ledger'>;
  activeModel: ActiveModel;
  logger: Logger;
  /** null: no announcements; the periodic check alone. */
  redisUrl: string | null;
  intervalMs: number;
  channel?: string;
}

export interface FeedbackSync {
  /**
   * Applies to the active model the rows it has not learned. One run at a time: a call during a run gets one
   * more run after it, so the promise resolves once the rows recorded before the call are applied. Never
   * rejects (a failure is logged; the next trigger tries again).
   */
  sync(): Promise<void>;
  /** Tells the other instances that a row was recorded (never throws: they see it at their next check). */
  announce(id: string): Promise<void>;
  /** Resolves once announcements from other processes are heard. */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

export function startFeedbackSync(deps: FeedbackSyncDeps): FeedbackSync {
  const { activeModel, scanner, logger } = deps;
  let stopped = false;

  async function applyNew(): Promise<void> {
    const model = activeModel.current();
    const ledger = scanner.ledger(model);
    const { after, exclude } = ledger.window();
    const started = performance.now();
    let count = 0;
    try {
      for await (const row of deps.feedback.replayableAfter(after, exclude)) {
        // Swapped meanwhile: the new model had its replay, and the swap asked for a run of its own.
        if (stopped || activeModel.current() !== model) break;
        // Applied live after this run's read began (a live row is in the ledger before it is recorded).
        if (ledger.has(row.id)) continue;
        await scanner.learnInto(model, row);
        count++;
      }
    } catch (err) {
      logger.warn(
        { event: 'FEEDBACK_SYNC_FAILED', err: (err as Error).message },
        'feedback sync failed; the next check tries again',
      );
    }
    if (count > 0)
      logger.info(
        {
          event: 'FEEDBACK_SYNCED',
          version: model.version,
          count,
          ms: Math.round(performance.now() - started),
        },
        'feedback from other processes applied',
      );
  }

  let running: Promise<void> | null = null;
  let again = false;
  function sync(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await applyNew();
        } while (again && !stopped);
      } finally {
        // In the tick that saw `again` false: a later call starts a new run instead of joining this one.
        running = null;
      }
    })();
    return running;
  }

  const channel = openSyncChannel({
    redisUrl: deps.redisUrl,
    channel: deps.channel ?? FEEDBACK_CHANNEL,
    intervalMs: deps.intervalMs,
    logger,
    onMessage: () => void sync(),
    onTick: () => void sync(),
    announceFailed: {
      event: 'FEEDBACK_ANNOUNCE_FAILED',
      text: 'announce failed; others will see the feedback at their next check',
    },
  });
  // A new model was replayed up to some row; what was recorded while it was readied comes now.
  const unsubscribe = activeModel.onChange(() => void sync());
  // Likewise for the replay at start.
  void sync();

  return {
    sync,
    announce: (id) => channel.announce(id, { id }),
    ready: channel.ready,
    async stop() {
      stopped = true;
      channel.close();
      unsubscribe();
      await running;
    },
  };
}
