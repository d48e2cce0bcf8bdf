/**
 * The local control channel between a running `serve` on the embedded store and the one-shot commands that
 * need that store (`apikey create`, `migrate`, `train`, and `scan` and `eval` for the model in force): newline-delimited JSON over a unix socket under the
 * data directory. One request at a time per connection; the answer is zero or more `item` lines, then one
 * `ok` line or one `error` line. Binary fields are base64.
 */
import path from 'node:path';
import type { Evaluation, Label } from '../classifier/types.js';
import { CONTROL_SOCKET } from '../store/dir-lock.js';

export function controlSocketPath(dataDir: string): string {
  return path.join(path.resolve(dataDir), CONTROL_SOCKET);
}

export interface StoreModelArgs {
  version: string;
  trainingSet: string;
  evaluation: Evaluation | null;
  /** base64 */
  artefact: string;
  createdAt: string;
}

/** Every request, with what its `ok` line carries. */
export interface ControlOps {
  'apikey.create': { args: { role: 'admin' | 'analyst'; label: string | null }; result: { key: string } };
  migrate: { args: Record<string, never>; result: { applied: string[] } };
  /** Takes the training lock for as long as the connection stays open. */
  'train.lock': { args: Record<string, never>; result: { locked: boolean } };
  /** Items: `{ raw (base64), label }`. */
  'feedback.forTraining': { args: { until: string; limit: number }; result: { count: number } };
  'models.storeAndActivate': { args: StoreModelArgs; result: { version: string } };
  /** Brings the model file mirror up to the model in force, feedback included (model-mirror.ts). */
  'model.mirror': { args: Record<string, never>; result: { version: string } };
}

export type ControlOp = keyof ControlOps;

export interface ControlRequest<K extends ControlOp = ControlOp> {
  op: K;
  args: ControlOps[K]['args'];
}

export type ControlLine =
  | { item: unknown }
  | { ok: true; result: unknown }
  | { ok: false; error: string; message: string };

export interface FeedbackItem {
  raw: string;
  label: Label;
  authSignals: string[];
}
