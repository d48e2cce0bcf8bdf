import { pino } from 'pino';
import type { LinearModel } from '../classifier/linear-model.js';
import { ensureActiveModel, readActiveMirror, writeActiveMirror } from '../classifier/model-source.js';
import { secretValues } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../observability/log.js';
import { createMetrics } from '../observability/metrics.js';
import { openStorage } from '../store/index.js';
import type { Storage } from '../store/types.js';

export { commandConfig } from './config.js';

/** Splits `--flag value` pairs and bare arguments; repeated flags collect. */
export function parseArgs(
  args: string[],
  spec: { booleans?: string[]; values?: string[] },
): { flags: Map<string, string[]>; bools: Set<string>; rest: string[]; unknown: string[] } {
  const flags = new Map<string, string[]>();
  const bools = new Set<string>();
  const rest: string[] = [];
  const unknown: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '-' || !a.startsWith('--')) rest.push(a);
    else if (spec.booleans?.includes(a)) bools.add(a);
    else if (spec.values?.includes(a) && i + 1 < args.length)
      flags.set(a, [...(flags.get(a) ?? []), args[++i] as string]);
    else unknown.push(a);
  }
  return { flags, bools, rest, unknown };
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

/**
 * The active model for one-shot commands. With Postgres: from the registry. With the embedded database:
 * from its file mirror when there is one, so the embedded Postgres is not started just to read a model.
 */
export async function activeModelFor(config: Config): Promise<LinearModel> {
  if (config.database.url === null) {
    const mirrored = readActiveMirror(config.dataDir);
    if (mirrored) return mirrored;
  }
  const model = await withStorage(config, (storage) => ensureActiveModel(storage.models));
  if (config.database.url === null) writeActiveMirror(config.dataDir, model);
  return model;
}
