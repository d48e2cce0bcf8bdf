/**
 * The shared shape of keeping every instance in step with the database (model activations, feedback): an
 * announcement on a Redis channel makes the others act at once, and a periodic check covers a lost message
 * or an instance without Redis. Announcing is best effort: a failure is logged, never thrown.
 */
import type { Logger } from '../observability/log.js';
import { openRedisChannel } from './redis-channel.js';

export interface SyncChannelOptions {
  /** null: no announcements; the periodic check alone. */
  redisUrl: string | null;
  channel: string;
  intervalMs: number;
  logger: Logger;
  /** Heard on the channel (another instance's announcement, or this one's). */
  onMessage(message: string): void;
  /** Every intervalMs. */
  onTick(): void;
  /** The log event and text when an announcement cannot be published. */
  announceFailed: { event: string; text: string };
}

export interface SyncChannel {
  /** `context` goes into the log line when the announcement fails. */
  announce(message: string, context: Record<string, unknown>): Promise<void>;
  /** Resolves once announcements from others are heard (at once without Redis). */
  readonly ready: Promise<void>;
  close(): void;
}

export function openSyncChannel(o: SyncChannelOptions): SyncChannel {
  const redis = o.redisUrl ? openRedisChannel(o.redisUrl, o.channel, o.onMessage) : null;
  const timer = setInterval(o.onTick, o.intervalMs);
  timer.unref();
  return {
    ready: redis ? redis.subscribed : Promise.resolve(),
    async announce(message, context) {
      if (!redis) return;
      try {
        await redis.publish(message);
      } catch (err) {
        o.logger.warn(
          { event: o.announceFailed.event, ...context, err: (err as Error).message },
          o.announceFailed.text,
        );
      }
    },
    close() {
      clearInterval(timer);
      redis?.close();
    },
  };
}
