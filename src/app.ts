/**
 * The composition root: builds every part from the config and wires them. Nothing else constructs
 * services, so a test builds a whole MailSentra on ephemeral ports with `createApp(config)`.
 */
import type { AddressInfo } from 'node:net';
import { buildApi } from './api/server.js';
import { createSenderAuth } from './auth/index.js';
import { createVerdictCache } from './cache/verdict-cache.js';
import { type CountModel, deserializeModel } from './classifier/model.js';
import { ensureActiveModel, writeActiveMirror } from './classifier/model-source.js';
import type { ActiveModel } from './classifier/types.js';
import { parseHostPort, secretValues } from './config/load.js';
import type { Config } from './config/schema.js';
import { createLogger, type Logger } from './observability/log.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { createActiveModel } from './pipeline/active-model.js';
import { withFeedback } from './pipeline/feedback-replay.js';
import { FEEDBACK_CHANNEL, type FeedbackSync, startFeedbackSync } from './pipeline/feedback-sync.js';
import { createPolicy } from './pipeline/policy.js';
import { createMessageProcessor } from './pipeline/process-message.js';
import { createScanner } from './pipeline/scan.js';
import type { Scanner } from './pipeline/types.js';
import { createForwarder } from './smtp/forward.js';
import { createInboundServer } from './smtp/inbound.js';
import { createRelay } from './smtp/relay.js';
import type { Relay } from './smtp/types.js';
import { type OpenedStorage, type OpenStorageOptions, openStorage } from './store/index.js';
import { MODEL_CHANNEL, type ModelSync, startModelSync } from './store/model-sync.js';

export interface App {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  storage: OpenedStorage;
  scanner: Scanner;
  relay: Relay;
  activeModel: ActiveModel;
  modelSync: ModelSync;
  feedbackSync: FeedbackSync;
  /** Opens the listeners; resolves with the bound ports (useful with port 0). */
  start(): Promise<{ smtpPort: number; apiPort: number }>;
  /** Graceful: stop accepting, let sessions finish (shutdownGraceMs), flush the log, close everything. */
  stop(): Promise<void>;
}

export interface AppOptions {
  logger?: Logger;
  /**
   * Which listeners this process runs (default both). With `smtp.processes` > 1 the cluster primary runs the
   * API and the workers run SMTP (src/cluster/).
   */
  roles?: { smtp: boolean; api: boolean };
  /** Told after feedback was recorded (and learned) here, so this instance's other processes apply it now. */
  onFeedback?: (id: string) => void;
  /** Told after an activation through the API, so other processes load it now. */
  onActivated?: (version: string) => void;
  /** Replaces this process's /metrics text (the cluster primary aggregates its workers'). */
  metricsText?: () => Promise<string>;
  storage?: OpenStorageOptions;
  /** Replaces the relay (fault tests). */
  relay?: Relay;
  /** Overrides database.syncIntervalSeconds in milliseconds (tests that need a check faster than 1 s). */
  modelCheckIntervalMs?: number;
  /** Redis channels of model and feedback sync (tests isolate themselves with their own); null: no
   * announcements, the periodic check alone (tests of that fallback). Default the MODEL_CHANNEL and
   * FEEDBACK_CHANNEL, when redis.url is set. */
  syncChannels?: { model: string; feedback: string } | null;
}

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.log.level, undefined, secretValues(config));
  const metrics = createMetrics();
  const storage = await openStorage(config, { logger, metrics }, options.storage);
  const activeModel = createActiveModel(await ensureActiveModel(storage.models), metrics);
  const cache = createVerdictCache(config, { logger, metrics });
  const scanner = createScanner({ config, activeModel, cache, metrics });
  // Learned feedback lives in memory: teach it again to every version this process loads (nothing scores yet).
  const replay = { storage, scanner, logger };
  await withFeedback(replay, activeModel.current());
  if (config.database.url === null) {
    // Embedded database: keep the file mirror that one-shot commands read (see model-source.ts).
    writeActiveMirror(config.dataDir, activeModel.current() as CountModel);
    activeModel.onChange((model) => writeActiveMirror(config.dataDir, model as CountModel));
  }
  const relay = options.relay ?? createRelay(config, metrics);
  const intervalMs = options.modelCheckIntervalMs ?? config.database.syncIntervalSeconds * 1000;
  const channels =
    options.syncChannels === undefined
      ? { model: MODEL_CHANNEL, feedback: FEEDBACK_CHANNEL }
      : options.syncChannels;
  const syncRedisUrl = channels ? config.redis.url : null;
  const modelSync = startModelSync({
    models: storage.models,
    redisUrl: syncRedisUrl,
    intervalMs,
    logger,
    channel: channels?.model,
    currentVersion: () => activeModel.current().version,
    onActivate: async (_version, artefact) =>
      activeModel.set(await withFeedback(replay, deserializeModel(artefact))),
  });
  // After the replay above: it set where the active model's ledger goes on from.
  const feedbackSync = startFeedbackSync({
    feedback: storage.feedback,
    scanner,
    activeModel,
    logger,
    redisUrl: syncRedisUrl,
    intervalMs,
    channel: channels?.feedback,
  });
  const processMessage = createMessageProcessor({
    config,
    logger,
    metrics,
    scanner,
    policy: createPolicy(config.policy, config.auth),
    storage,
    auth: createSenderAuth(config, { redis: cache.redis, metrics }),
  });
  const forwarder = createForwarder({ config, relay });
  const roles = options.roles ?? { smtp: true, api: true };
  const inbound = roles.smtp
    ? createInboundServer({ config, logger, metrics, onMessage: (d) => processMessage(d, forwarder) })
    : null;
  const { onFeedback, onActivated } = options;
  const api = roles.api
    ? await buildApi({
        config,
        logger,
        metrics,
        storage,
        scanner,
        relay,
        activeModel,
        modelSync: {
          async announce(version) {
            await modelSync.announce(version);
            onActivated?.(version);
          },
        },
        feedbackSync: {
          announce(id) {
            onFeedback?.(id); // this instance's workers, over IPC: at once, whatever Redis does
            return feedbackSync.announce(id);
          },
        },
        ...(options.metricsText ? { metricsText: options.metricsText } : {}),
      })
    : null;

  return {
    config,
    logger,
    metrics,
    storage,
    scanner,
    relay,
    activeModel,
    modelSync,
    feedbackSync,
    async start() {
      const smtpPort = inbound ? await inbound.listen() : 0;
      let apiPort = 0;
      if (api) {
        const { host, port } = parseHostPort(config.api.listen);
        await api.listen({ host, port });
        apiPort = (api.server.address() as AddressInfo).port;
      }
      logger.info(
        { event: 'LISTENING', smtpPort, apiPort, model: activeModel.current().version, db: storage.kind },
        'listening',
      );
      return { smtpPort, apiPort };
    },
    async stop() {
      await inbound?.close(config.shutdownGraceMs);
      await api?.close();
      await modelSync.stop();
      // Before the scanner and storage it reads with and teaches through.
      await feedbackSync.stop();
      await scanner.close();
      await relay.close();
      await cache.close();
      await storage.close();
      logger.info({ event: 'STOPPED' }, 'stopped');
    },
  };
}
