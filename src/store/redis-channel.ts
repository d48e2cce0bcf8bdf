/**
 * A Redis pub/sub channel between instances: one connection publishes, one listens (a subscribed connection
 * can do nothing else). Best effort by design: ioredis reconnects by itself, errors are swallowed here and
 * a lost message is made up for by the caller's periodic check.
 */
import { newRedis } from '../util/redis-client.js';

export interface RedisChannel {
  /** Rejects when Redis is unreachable (the caller logs it). */
  publish(message: string): Promise<void>;
  /** Resolves once the subscription is in place (messages published before it are not heard); never
   * rejects: without Redis it stays pending. */
  readonly subscribed: Promise<void>;
  close(): void;
}

export function openRedisChannel(
  url: string,
  channel: string,
  onMessage: (message: string) => void,
): RedisChannel {
  const options = { maxRetriesPerRequest: 1, retryStrategy: (n: number) => Math.min(n * 200, 5000) };
  const publisher = newRedis(url, options);
  const subscriber = newRedis(url, options);
  publisher.on('error', () => {});
  subscriber.on('error', () => {});
  const subscribed = subscriber.subscribe(channel).then(
    () => {},
    () => new Promise<void>(() => {}),
  );
  subscriber.on('message', (ch: string, message: string) => {
    if (ch === channel) onMessage(message);
  });
  return {
    subscribed,
    async publish(message) {
      await publisher.publish(channel, message);
    },
    close() {
      publisher.disconnect();
      subscriber.disconnect();
    },
  };
}
