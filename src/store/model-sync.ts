/**
 * Keeps every instance on the active model version. An activation is announced on a Redis channel and each
 * instance loads the new artefact from the database; a periodic check of the database covers a missed
 * message or an instance without Redis.
 */
import type { Logger } from '../observability/log.js';
import { newRedis } from '../util/redis-client.js';
import { openSyncChannel } from './sync-channel.js';
import type { ModelStore } from './types.js';

export const MODEL_CHANNEL = 'mailsentra:model-activated';

/**
 * A one-shot command's announcement of a version it activated (`mailsentra train`), so the running
 * instances load it at once rather than at their next check. Best effort: false when Redis could not be
 * told, and the instances' periodic check then finds it.
 */
export async function announceActivation(redisUrl: string, version: string): Promise<boolean> {
  const redis = newRedis(redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.publish(MODEL_CHANNEL, version);
    return true;
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

export interface ModelSyncDeps {
  models: ModelStore;
  redisUrl: string | null;
  intervalMs: number;
  logger: Logger;
  /** The version this instance runs now. */
  currentVersion(): string;
  /** Load and swap in `version` (its artefact). Errors are logged; the old model stays. */
  onActivate(version: string, artefact: Buffer): void | Promise<void>;
  channel?: string;
}

export interface ModelSync {
  announce(version: string): Promise<void>;
  /** Resolves once announcements from other instances are heard. */
  readonly ready: Promise<void>;
  /** Checks the database now (also done every intervalMs). */
  check(): Promise<void>;
  stop(): Promise<void>;
}

export function startModelSync(deps: ModelSyncDeps): ModelSync {
  const channel = deps.channel ?? MODEL_CHANNEL;
  let loading: Promise<void> = Promise.resolve();

  async function load(version: string): Promise<void> {
    if (version === deps.currentVersion()) return;
    const artefact = await deps.models.getArtefact(version);
    if (!artefact) {
      deps.logger.warn(
        { event: 'MODEL_SYNC_MISSING', version },
        'announced model version not in the database',
      );
      return;
    }
    try {
      await deps.onActivate(version, artefact);
      deps.logger.info({ event: 'MODEL_ACTIVATED', version }, 'switched to model version');
    } catch (err) {
      deps.logger.error(
        { event: 'MODEL_LOAD_FAILED', version, err: (err as Error).message },
        'cannot load model',
      );
    }
  }

  // Loads are serialised so two announcements cannot race each other.
  const enqueue = (version: string) => {
    loading = loading.then(() => load(version)).catch(() => {});
    return loading;
  };

  async function check(): Promise<void> {
    try {
      const active = await deps.models.getActive();
      if (active) await enqueue(active.version);
    } catch (err) {
      deps.logger.warn(
        { event: 'MODEL_SYNC_CHECK_FAILED', err: (err as Error).message },
        'model check failed',
      );
    }
  }

  const sync = openSyncChannel({
    redisUrl: deps.redisUrl,
    channel,
    intervalMs: deps.intervalMs,
    logger: deps.logger,
    onMessage: (version) => void enqueue(version),
    onTick: () => void check(),
    announceFailed: {
      event: 'MODEL_ANNOUNCE_FAILED',
      text: 'announce failed; others will see it at their next check',
    },
  });

  return {
    announce: (version) => sync.announce(version, { version }),
    ready: sync.ready,
    check,
    async stop() {
      sync.close();
      await loading;
    },
  };
}
