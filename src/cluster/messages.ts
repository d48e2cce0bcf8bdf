/** What the cluster primary and its SMTP workers tell each other over the IPC channel. */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { Config } from '../config/schema.js';

export type ToWorker =
  /** Feedback was recorded: apply it now (from the database, as every process does) rather than at the next
   * periodic check. */
  | { kind: 'check-feedback' }
  /** A model was activated: load it now rather than at the next periodic check. */
  | { kind: 'check-model' }
  /** The primary reloaded the configuration: decide the next messages by this policy. */
  | { kind: 'reload-policy'; policy: Config['policy'] }
  | { kind: 'metrics'; id: number };

export type ToPrimary = {
  kind: 'metrics';
  id: number;
  metrics: MetricObjectWithValues<MetricValue<string>>[];
};

export function isToWorker(m: unknown): m is ToWorker {
  return typeof m === 'object' && m !== null && typeof (m as { kind?: unknown }).kind === 'string';
}

export function isToPrimary(m: unknown): m is ToPrimary {
  return (
    typeof m === 'object' && m !== null && (m as { kind?: unknown }).kind === 'metrics' && 'metrics' in m
  );
}

/**
 * The environment variable that carries the primary's configuration in force to a worker it forks: a worker
 * started later (one that replaces another) runs with the settings the others run with, reloaded policy
 * included, not with whatever the file holds by then.
 */
export const WORKER_CONFIG_ENV = 'MAILSENTRA_WORKER_CONFIG';
