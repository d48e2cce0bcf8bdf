/** What the cluster primary and its SMTP workers tell each other over the IPC channel. */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { Label } from '../classifier/types.js';

export type ToWorker =
  /** Feedback changed the primary's model: learn the same (raw as base64). */
  | { kind: 'learn'; raw: string; label: Label; previous: Label | null }
  /** A model was activated: load it now rather than at the next periodic check. */
  | { kind: 'check-model' }
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
