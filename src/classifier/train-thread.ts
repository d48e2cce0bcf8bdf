/**
 * trainVersion on a worker thread of its own (~7 s of CPU on 2 cores): run on the service's event loop it
 * would stall every SMTP session, /health and /metrics for as long. One module is both sides: `trainInThread`
 * runs this same file's default export on the thread, and only plain data crosses (the request in, the
 * serialised version out).
 */
import { workerPool } from '../util/worker-pool.js';
import { type TrainRequest, trainVersion } from './train-version.js';
import type { Evaluation } from './types.js';

export interface TrainResult {
  version: string;
  artefact: Uint8Array;
  evaluation: Evaluation;
  trainingSet: string;
}

/** The thread's entry point (Piscina calls the default export). */
export default function trainSerialised(request: TrainRequest): TrainResult {
  const { model, evaluation, trainingSet } = trainVersion(request);
  return { version: model.version, artefact: model.serialize(), evaluation, trainingSet };
}

/** A one-thread pool for the run, gone when it ends; the event loop stays free meanwhile. */
export async function trainInThread(request: TrainRequest): Promise<TrainResult> {
  const pool = workerPool(import.meta.url, 'train-thread', { threads: 1 });
  try {
    return (await pool.run(request)) as TrainResult;
  } finally {
    await pool.destroy();
  }
}
