/**
 * What a configuration reload (SIGHUP) changes in a running service. The policy section — thresholds,
 * per-domain thresholds, the lists, DMARC handling, the subject prefix — is what an administrator adjusts
 * day to day and is read per message, so it takes effect at once. Every other setting is held by parts built
 * at start (listeners, stores, pools, timers, the pipeline's own options), which a reload does not rebuild:
 * a changed one is named, and waits for a restart.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Config } from './schema.js';

/** The top-level sections a reload applies. */
export const RELOADABLE_SECTIONS: readonly (keyof Config)[] = ['policy'];

export interface ReloadPlan {
  /** Changed keys a reload applies (dotted paths). */
  applied: string[];
  /** Changed keys that take effect only at the next start. */
  restartNeeded: string[];
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The dotted paths of the leaves that differ between two configs; a list is one leaf. Only names: a secret's
 * value must never reach a log line.
 */
export function changedKeys(before: unknown, after: unknown, prefix = ''): string[] {
  if (!isRecord(before) || !isRecord(after)) return isDeepStrictEqual(before, after) ? [] : [prefix];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys.flatMap((k) => changedKeys(before[k], after[k], prefix ? `${prefix}.${k}` : k));
}

export function planReload(before: Config, after: Config): ReloadPlan {
  const changed = changedKeys(before, after);
  const reloadable = (key: string) =>
    RELOADABLE_SECTIONS.some((section) => key === section || key.startsWith(`${section}.`));
  return {
    applied: changed.filter(reloadable),
    restartNeeded: changed.filter((key) => !reloadable(key)),
  };
}
