import { pino } from 'pino';
import type { VerdictCache } from '../cache/types.js';
import type { LinearModel } from '../classifier/linear-model.js';
import { readActiveMirror, writeActiveMirror } from '../classifier/model-mirror.js';
import { ensureActiveModel } from '../classifier/model-source.js';
import type { CommandContext } from '../cli.js';
import { secretValues } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { CliError } from '../errors.js';
import { createLogger } from '../observability/log.js';
import { createMetrics } from '../observability/metrics.js';
import { createActiveModel } from '../pipeline/active-model.js';
import { withFeedback } from '../pipeline/feedback-replay.js';
import { createScanner } from '../pipeline/scan.js';
import { openStorage } from '../store/index.js';
import type { Storage } from '../store/types.js';
import { closest } from '../util/closest.js';
import { runningService } from './service.js';

export { commandConfig } from './config.js';

/** A mistake in a command's arguments: one line naming it and the command's usage, exit 2. */
export function usageError(mistake: string, usage: string): CliError {
  return new CliError('USAGE', 2, `${mistake}; ${usage}`);
}

/**
 * Splits `--flag value` pairs and bare arguments; repeated flags collect. An option the command does not
 * know, or one that needs a value and has none, is a usage error naming it (and the option it was
 * probably meant to be).
 */
export function parseArgs(
  args: string[],
  spec: { booleans?: string[]; values?: string[]; usage: string },
): { flags: Map<string, string[]>; bools: Set<string>; rest: string[] } {
  const flags = new Map<string, string[]>();
  const bools = new Set<string>();
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '-' || !a.startsWith('--')) rest.push(a);
    else if (spec.booleans?.includes(a)) bools.add(a);
    else if (spec.values?.includes(a)) {
      const value = args[++i];
      if (value === undefined) throw usageError(`${a} needs a value`, spec.usage);
      flags.set(a, [...(flags.get(a) ?? []), value]);
    } else {
      const meant = closest(a, [...(spec.values ?? []), ...(spec.booleans ?? [])]);
      throw usageError(`unknown option ${a}${meant ? ` (did you mean ${meant}?)` : ''}`, spec.usage);
    }
  }
  return { flags, bools, rest };
}

/** Opens storage for a one-shot command (logs to stderr, so stdout stays machine-readable) and closes it. */
export async function withStorage<T>(config: Config, fn: (storage: Storage) => Promise<T>): Promise<T> {
  const logger = createLogger(config.log.level, pino.destination(2), secretValues(config));
  const storage = await openStorage(config, { logger, metrics: createMetrics({ defaultMetrics: false }) });
  try {
    return await fn(storage);
  } finally {
    await storage.close();
  }
}

/** The verdict cache of a command's scanner: none (a command scores each file once). */
const NO_CACHE: VerdictCache = { get: async () => null, set: async () => {}, close: async () => {} };

/**
 * The model in force for one-shot commands (`scan`, `eval`): the active version with the feedback the
 * service has learned on top of it, so a command scores a message as the service does. With the embedded
 * database: from its file mirror (model-mirror.ts), which a running service brings up to date first, so
 * the embedded Postgres is not started just to read a model; without a service, the mirror is as the last
 * one left it at its stop.
 */
export async function activeModelFor(config: Config, ctx: CommandContext): Promise<LinearModel> {
  if (config.database.url === null) {
    const service = await runningService(config, ctx).catch((err: unknown) => {
      // Another command holds the store (a `train`, say): the mirror is as the last service left it.
      if (err instanceof CliError && err.code === 'DATA_DIR_LOCKED') return null;
      throw err;
    });
    if (service) {
      try {
        await service.call('model.mirror', {});
      } finally {
        service.close();
      }
    }
    const mirrored = readActiveMirror(config.dataDir);
    if (mirrored) return mirrored;
  }
  const model = await withStorage(config, async (storage) => {
    const logger = createLogger(config.log.level, pino.destination(2), secretValues(config));
    const metrics = createMetrics({ defaultMetrics: false });
    const active = await ensureActiveModel(storage.models);
    // Feedback taught again as the service's start does (feedback-replay.ts); inline, one file at a time.
    const scanner = createScanner({
      config: {
        ...config,
        cache: { ...config.cache, enabled: false },
        scanner: { ...config.scanner, workers: 0 },
      },
      activeModel: createActiveModel(active, metrics),
      cache: NO_CACHE,
      metrics,
    });
    try {
      return await withFeedback({ storage, scanner, logger }, active);
    } finally {
      await scanner.close();
    }
  });
  if (config.database.url === null) writeActiveMirror(config.dataDir, model);
  return model;
}
