/**
 * One message's verdict: content hash → verdict cache → features (in worker threads) → score with the
 * active model (on the main thread: microseconds, and the only copy of the model, so learning and
 * activation touch one object).
 */
import { contentHash } from '../cache/content-hash.js';
import type { VerdictCache } from '../cache/types.js';
import { messageVector } from '../classifier/feature-list.js';
import { extractFeatures } from '../classifier/features.js';
import { signalFeatures } from '../classifier/signals.js';
import type { ActiveModel, Label, MessageFeatures, SpamModel } from '../classifier/types.js';
import type { Config } from '../config/schema.js';
import { ScanTimeoutError } from '../errors.js';
import type { Metrics } from '../observability/metrics.js';
import { withTimeout } from '../util/timeout.js';
import { workerPool } from '../util/worker-pool.js';
import type { FeatureTask } from './feature-worker.js';
import {
  createFeedbackLedger,
  type FeedbackLedger,
  type FeedbackPosition,
  MAX_UUID,
} from './feedback-ledger.js';
import type { FeedbackLesson, LessonAuth, Scanner } from './types.js';

/** The verdict cache's model state: the version, and the feedback it learned (none: the version alone). */
export const cacheScope = (version: string, generation: string) =>
  generation ? `${version}+${generation}` : version;

/**
 * The verdict cache's key for a message: its content hash, and its auth signals' features when it has any
 * (the same bytes from another client score differently). The features are deduplicated and sorted.
 */
export const verdictKey = (contentHash: string, authFeatures: readonly string[]) =>
  authFeatures.length > 0 ? `${contentHash}:${authFeatures.join(',')}` : contentHash;

const NO_AUTH: LessonAuth = { signals: [], previous: [] };

export interface FeatureExtractor {
  /**
   * With `timeoutMs`, a worker's task that runs longer is aborted (the worker is terminated and replaced,
   * so a runaway parse frees it) and the promise rejects with ScanTimeoutError. An inline parse is
   * synchronous: it is never cut short, so it gets no timer.
   */
  extract(raw: Buffer, timeoutMs?: number): Promise<MessageFeatures>;
  close(): Promise<void>;
}

/**
 * Runs extraction in `workers` threads (0 = always inline). Messages under `workerMinBytes` are parsed
 * inline: for them the parse costs less than the hand-off to a thread (5 KiB mail goes through faster
 * inline), while large ones, whose parse can take milliseconds, never stall the event loop.
 */
export function createFeatureExtractor(config: Config): FeatureExtractor {
  const maxBytes = config.scanner.maxScanBytes;
  const inline = async (raw: Buffer) => extractFeatures(raw, { maxBytes });
  if (config.scanner.workers === 0) return { extract: inline, close: async () => {} };
  const workerMinBytes = config.scanner.workerMinBytes;
  const pool = workerPool(import.meta.url, 'feature-worker', { threads: config.scanner.workers });
  const inWorker = (raw: Buffer, timeoutMs: number | undefined) => {
    const task = { raw, maxBytes } satisfies FeatureTask;
    if (timeoutMs === undefined) return pool.run(task) as Promise<MessageFeatures>;
    const abort = new AbortController();
    return withTimeout(
      pool.run(task, { signal: abort.signal }) as Promise<MessageFeatures>,
      timeoutMs,
      () => {
        abort.abort();
        return new ScanTimeoutError(`scan took longer than ${timeoutMs} ms`);
      },
    );
  };
  return {
    extract: (raw, timeoutMs) => (raw.length < workerMinBytes ? inline(raw) : inWorker(raw, timeoutMs)),
    close: () => pool.destroy(),
  };
}

export function createScanner(deps: {
  config: Config;
  activeModel: ActiveModel;
  cache: VerdictCache;
  metrics: Metrics;
  extractor?: FeatureExtractor;
}): Scanner {
  const { config, activeModel, cache, metrics } = deps;
  const extractor = deps.extractor ?? createFeatureExtractor(config);
  const useCache = config.cache.enabled;
  const maxScanBytes = config.scanner.maxScanBytes;

  // Per model object, so a version being readied (replay) has its own, and a discarded one goes with it.
  const ledgers = new WeakMap<SpamModel, FeedbackLedger>();
  function ledger(model: SpamModel, start?: FeedbackPosition): FeedbackLedger {
    let found = ledgers.get(model);
    if (!found) {
      found = createFeedbackLedger(start ?? { createdAt: new Date(), id: MAX_UUID });
      ledgers.set(model, found);
    }
    return found;
  }

  /** `modelOf` is read once the features are ready: live feedback teaches the model active by then. */
  async function teach(modelOf: () => SpamModel, lesson: FeedbackLesson): Promise<void> {
    const { label, previous } = lesson;
    const features = await extractor.extract(lesson.raw);
    const model = modelOf();
    if (previous !== label) {
      // Each with the auth signals its own row was scanned with: the unlearn takes back what was learned.
      if (previous)
        model.unlearn(messageVector(features, signalFeatures(lesson.previousAuthSignals)), previous);
      model.learn(messageVector(features, signalFeatures(lesson.authSignals)), label);
    }
    // Same tick as the change: the cache key (version + generation) names exactly these weights. No cache
    // invalidation is needed: the new generation is a new key for every content, and the entries of the old
    // one are never read again (they age out of the LRU and Redis TTL).
    ledger(model).add(lesson);
  }

  return {
    contentHash,
    async scan(raw, authSignals = []) {
      const started = performance.now();
      const hash = contentHash(raw);
      const authFeatures = signalFeatures(authSignals);
      const key = verdictKey(hash, authFeatures);
      const model = activeModel.current();
      const learned = ledger(model);
      if (useCache) {
        const hit = await cache.get(cacheScope(model.version, learned.generation()), key);
        if (hit) {
          const scanMs = performance.now() - started;
          metrics.scanDuration.observe(scanMs / 1000);
          metrics.spamScore.observe(hit.score);
          return {
            ...hit,
            spam: hit.score >= 0.5,
            modelVersion: model.version,
            contentHash: hash,
            features: null,
            cached: true,
            scanMs,
          };
        }
      }
      const features = await extractor.extract(raw, config.scanner.timeoutMs);
      // Read in the tick that scores: feedback applied during the parse changed the weights and the
      // generation together.
      const scope = cacheScope(model.version, learned.generation());
      const result = model.score(messageVector(features, authFeatures));
      if (useCache)
        await cache.set(scope, key, {
          score: result.score,
          topFeatures: result.topFeatures,
          ...(result.evidence ? { evidence: result.evidence } : {}),
        });
      const scanMs = performance.now() - started;
      metrics.scanDuration.observe(scanMs / 1000);
      metrics.spamScore.observe(result.score);
      return { ...result, modelVersion: model.version, contentHash: hash, features, cached: false, scanMs };
    },
    async learn(raw, label: Label, previous: Label | null, row, auth = NO_AUTH) {
      // Features come from this prefix only (extractFeatures), so it teaches exactly what `raw` does.
      const scanned = raw.length > maxScanBytes ? raw.subarray(0, maxScanBytes) : raw;
      await teach(activeModel.current, {
        id: row.id,
        createdAt: row.createdAt,
        raw: scanned,
        label,
        previous,
        authSignals: auth.signals,
        previousAuthSignals: auth.previous,
      });
      return { scanned };
    },
    learnInto: (model, lesson) => teach(() => model, lesson),
    ledger,
    close: () => extractor.close(),
  };
}
