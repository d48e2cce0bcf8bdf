/**
 * The composition root: builds every part from the config and wires them. Nothing else constructs
 * services, so a test builds a whole MailSentra on ephemeral ports with `createApp(config)`.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApi, startApiFrame } from './api/server.js';
import { createSenderAuth } from './auth/index.js';
import { createVerdictCache } from './cache/verdict-cache.js';
import { deserializeModel } from './classifier/model.js';
import { createModelCache } from './classifier/model-cache.js';
import { createModelMirror } from './classifier/model-mirror.js';
import { ensureActiveModel } from './classifier/model-source.js';
import type { ActiveModel } from './classifier/types.js';
import { parseHostPort, secretValues } from './config/load.js';
import type { Config } from './config/schema.js';
import { controlSocketPath } from './control/protocol.js';
import { type ControlServer, startControlServer } from './control/server.js';
import { type DigestJob, startDigestJob } from './digest/job.js';
import { ListenError } from './errors.js';
import { type ListCache, startListCache } from './lists/cache.js';
import { createMilterServer } from './milter/server.js';
import { createLogger, type Logger } from './observability/log.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { startupPhases } from './observability/startup.js';
import { createActiveModel } from './pipeline/active-model.js';
import { withFeedback } from './pipeline/feedback-replay.js';
import { FEEDBACK_CHANNEL, type FeedbackSync, startFeedbackSync } from './pipeline/feedback-sync.js';
import { createPolicy, type Policy, reloadablePolicy } from './pipeline/policy.js';
import { createMessageProcessor } from './pipeline/process-message.js';
import { createScanner } from './pipeline/scan.js';
import type { Delivery, Listener, Transport } from './pipeline/transport.js';
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
  listCache: ListCache;
  /** null in processes without the API role. */
  digest: DigestJob | null;
  modelSync: ModelSync;
  feedbackSync: FeedbackSync;
  /** The milter listener, when milter.listen is set. */
  milter: Listener | null;
  /** The HTTP API (null without the API role); tests `inject` into it without opening a port. */
  api: FastifyInstance | null;
  /** The policy in force: the one built from `config.policy`, or from the settings of the last reload. */
  policy: Policy;
  /** Decides the next messages by these settings (a configuration reload, src/commands/reload.ts). */
  reloadPolicy(settings: Config['policy']): void;
  /** Opens the listeners; resolves with the bound ports (useful with port 0). */
  start(): Promise<{ smtpPort: number; apiPort: number; milterPort: number }>;
  /** Graceful: stop accepting, let sessions finish (shutdownGraceMs), flush the log, close everything. */
  stop(): Promise<void>;
  /**
   * Settles (after its one log line) if the embedded database stops on its own: the process can no longer
   * quarantine, log or answer /ready, and only a new start recovers the database, so `serve` stops then.
   */
  failed: Promise<Error>;
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
  /** false: no digest rounds on a timer (tests call `digest.runOnce()`). */
  digestTimer?: boolean;
}

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.log.level, undefined, secretValues(config));
  // Where start-up time goes (logged as STARTUP): every second of it is mail deferred at the upstream MTAs.
  const phases = startupPhases();
  const metrics = createMetrics({ dataDir: config.dataDir });
  // Start-up steps at info level: a first start takes tens of seconds, and an admin should see it working.
  let stepStarted = performance.now();
  const stepDone = (event: string, text: string, fields: Record<string, unknown> = {}) => {
    const ms = Math.round(performance.now() - stepStarted);
    logger.info({ event, ms, ...fields }, text);
    stepStarted = performance.now();
  };
  logger.info(
    { event: 'STORE_OPENING', db: config.database.url === null ? 'embedded' : 'postgres' },
    'opening the database and applying migrations',
  );
  const modelCache = createModelCache(config.dataDir);
  modelCache.preload();
  const opening = openStorage(config, { logger, metrics }, options.storage);
  const roles = options.roles ?? { smtp: true, api: true };
  // The API's frame needs no part: built on this thread while the store opens (till then it only waits).
  const frame = roles.api
    ? startApiFrame({ config, logger, metrics, storage: opening, metricsText: options.metricsText })
    : null;
  const storage = await opening.catch(async (err: unknown) => {
    await frame?.drop();
    throw err;
  });
  stepDone('STORE_READY', 'database ready', { db: storage.kind });
  phases.mark('storage');
  logger.info({ event: 'MODEL_LOADING' }, 'loading the active model (a first start stores the default one)');
  const initialModel = await ensureActiveModel(storage.models, modelCache).catch(async (err: unknown) => {
    // A model that cannot load (a retired format) stops the start: close the store so the process can exit.
    await storage.close();
    await frame?.drop();
    throw err;
  });
  const activeModel = createActiveModel(initialModel, metrics);
  stepDone('MODEL_READY', 'model ready', { model: activeModel.current().version });
  phases.mark('model');
  const cache = createVerdictCache(config, { logger, metrics });
  const scanner = createScanner({ config, activeModel, cache, metrics });
  // Learned feedback lives in memory: teach it again to every version this process loads (nothing scores yet).
  const replay = { storage, scanner, logger };
  await withFeedback(replay, activeModel.current());
  phases.mark('feedbackReplay');
  // Embedded database: keep the file mirror that one-shot commands read (model-mirror.ts): on a change of
  // version, once listening (/ready need not wait for it), when a command asks, and at stop.
  const modelMirror = config.database.url === null ? createModelMirror(config.dataDir) : null;
  const refreshMirror = async (model = activeModel.current()): Promise<void> => {
    try {
      await modelMirror?.refresh(model, () => scanner.ledger(model).generation());
    } catch (err) {
      logger.warn({ event: 'MODEL_MIRROR_FAILED', err }, 'could not write the model file mirror');
    }
  };
  if (modelMirror) activeModel.onChange((model) => void refreshMirror(model));
  const relay = options.relay ?? createRelay(config, metrics);
  const intervalMs = options.modelCheckIntervalMs ?? config.database.syncIntervalSeconds * 1000;
  const listCache = await startListCache(storage.lists, { intervalMs, logger });
  const signingKey = config.digest.signingKey
    ? Buffer.from(config.digest.signingKey)
    : await storage.digest.signingKey();
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
  const senderAuth = createSenderAuth(config, { redis: cache.redis, metrics });
  const policyOf = (settings: Config['policy']) => createPolicy(settings, config.auth, listCache.entries);
  const policy = reloadablePolicy(policyOf(config.policy));
  const decide = createMessageProcessor({
    config,
    logger,
    metrics,
    scanner,
    policy,
    storage,
    auth: senderAuth,
  });
  // Messages being decided, whichever transport brought them: stop() waits for them before it closes what
  // they use (the relay, the store that records their row).
  const deciding = new Set<Promise<unknown>>();
  const processMessage: typeof decide = Object.assign(
    (delivery: Delivery, transport: Transport) => {
      const done = decide(delivery, transport);
      deciding.add(done);
      done.then(
        () => deciding.delete(done),
        () => deciding.delete(done),
      );
      return done;
    },
    { tooBig: decide.tooBig },
  );
  const forwarder = createForwarder({ config, relay });
  const inbound =
    roles.smtp && config.smtp.listen !== 'off'
      ? createInboundServer({
          config,
          logger,
          metrics,
          onMessage: (d) => processMessage(d, forwarder),
          onTooBig: processMessage.tooBig,
        })
      : null;
  const milter =
    roles.smtp && config.milter.listen !== null
      ? createMilterServer({ config, logger, process: processMessage })
      : null;
  const { onFeedback, onActivated } = options;
  // What the API is built from is also what the App exposes.
  const parts = { config, logger, metrics, storage, scanner, relay, activeModel, listCache, policy };
  const api = frame
    ? await buildApi(await frame.built, {
        ...parts,
        signingKey,
        auth: senderAuth,
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
      })
    : null;
  // With the API: in a cluster the primary runs it once, not every SMTP worker.
  let apiAddress = config.api.listen;
  const baseUrl = () => config.digest.baseUrl ?? `http://${apiAddress}`;
  const digest = roles.api
    ? startDigestJob(
        { config, storage, relay, metrics, logger, signingKey, baseUrl },
        { timer: options.digestTimer },
      )
    : null;
  phases.mark('wiring');

  // Embedded store on disk: this process alone may open it, so the one-shot commands that need it
  // (apikey create, migrate, train) come through this socket while the service runs.
  const openControl = async (): Promise<ControlServer | null> => {
    const dir = storage.lockDir;
    if (dir === null || !roles.api) return null;
    return startControlServer({
      socketPath: controlSocketPath(dir),
      logger,
      storage,
      async activate(version) {
        const artefact = await storage.models.getArtefact(version);
        if (!artefact) throw new Error(`model version ${version} not found`);
        const model = await withFeedback(replay, deserializeModel(artefact));
        await storage.models.activate(version);
        activeModel.set(model);
        await modelSync.announce(version);
      },
      async refreshMirror() {
        // Not the logged background refresh: a command waiting on the mirror must hear that it failed.
        const model = activeModel.current();
        await modelMirror?.refresh(model, () => scanner.ledger(model).generation());
        return { version: model.version };
      },
    });
  };
  let control: ControlServer | null = null;
  const failed = storage.failed.then((err) => {
    logger.fatal(
      { event: 'EMBEDDED_DB_STOPPED', err: err.message },
      'the embedded database stopped; stopping so that a restart recovers it',
    );
    return err;
  });

  return {
    ...parts,
    failed,
    digest,
    modelSync,
    feedbackSync,
    milter,
    api,
    reloadPolicy(settings) {
      policy.replace(policyOf(settings));
    },
    async start() {
      control = await openControl();
      const smtpPort = inbound
        ? await listening('smtp.listen, env SMTP_LISTEN', config.smtp.listen, () => inbound.listen())
        : 0;
      const milterPort = milter
        ? await listening('milter.listen, env MILTER_LISTEN', config.milter.listen ?? '', () =>
            milter.listen(),
          )
        : 0;
      let apiPort = 0;
      if (api) {
        const { host, port } = parseHostPort(config.api.listen);
        await listening('api.listen, env API_LISTEN', config.api.listen, () => api.listen({ host, port }));
        apiPort = (api.server.address() as AddressInfo).port;
        apiAddress = `${host.includes(':') ? `[${host}]` : host}:${apiPort}`;
      }
      phases.mark('listen');
      void refreshMirror();
      logger.info({ event: 'STARTUP', db: storage.kind, ...phases.done() }, 'start-up phases (ms)');
      logger.info(
        {
          event: 'LISTENING',
          smtpPort,
          milterPort,
          apiPort,
          model: activeModel.current().version,
          db: storage.kind,
        },
        'listening',
      );
      return { smtpPort, apiPort, milterPort };
    },
    async stop() {
      await Promise.all([inbound?.close(config.shutdownGraceMs), milter?.close(config.shutdownGraceMs)]);
      // A milter connection cut at the grace may leave its message's decision running: its row and its
      // hand-on still need the store and the relay.
      if (deciding.size > 0) {
        logger.info(
          { event: 'SHUTDOWN_WAITING', messages: deciding.size },
          'waiting for messages being decided',
        );
        await Promise.allSettled([...deciding]);
      }
      await api?.close();
      await control?.close();
      await modelSync.stop();
      listCache.stop();
      digest?.stop();
      // Before the scanner and storage it reads with and teaches through.
      await feedbackSync.stop();
      // What this process learned, for the commands run after it (model-mirror.ts).
      await refreshMirror();
      await scanner.close();
      await relay.close();
      await cache.close();
      await storage.close();
      logger.info({ event: 'STOPPED' }, 'stopped');
    },
  };
}

/** Opens a listener; a bind the system refuses is named by the setting that chose the address. */
async function listening<T>(setting: string, address: string, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // 'bind' in a cluster worker, whose listener the primary opens.
    if ((e.syscall === 'listen' || e.syscall === 'bind') && typeof e.code === 'string')
      throw new ListenError(setting, address, e);
    throw err;
  }
}
