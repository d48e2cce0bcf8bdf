/**
 * A training run (corpus features, fit, held-out evaluation: ~7 s of CPU on 2 cores) on a worker thread of
 * its own. Run on the service's event loop it stalled every SMTP session, /health and /metrics for as long.
 * One module is both sides: `trainInThread` runs this same file's default export on the thread.
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { loadSpamAssassin } from './corpus.js';
import { summarise } from './evaluate.js';
import { extractFeatures } from './features.js';
import { featuresOf, trainFromFeatures } from './train.js';
import type { Evaluation, Label } from './types.js';

export interface TrainTask {
  maxBytes: number;
  /** Site feedback to learn beside the SpamAssassin TRAIN split. */
  feedback: { raw: Uint8Array; label: Label }[];
  versionPrefix: string;
}

export interface TrainResult {
  version: string;
  artefact: Uint8Array;
  /** On the SpamAssassin TEST split. */
  evaluation: Evaluation;
}

/** Trains on the SpamAssassin TRAIN split plus `task.feedback` and evaluates on TEST, in this thread. */
export function trainWithCorpus(task: TrainTask): TrainResult {
  const { maxBytes } = task;
  const feedback = task.feedback.map((f) => ({
    tokens: extractFeatures(Buffer.from(f.raw.buffer, f.raw.byteOffset, f.raw.byteLength), { maxBytes })
      .tokens,
    label: f.label,
  }));
  const model = trainFromFeatures([...featuresOf(loadSpamAssassin('train'), maxBytes), ...feedback], {
    maxBytes,
    versionPrefix: task.versionPrefix,
  });
  const evaluation = summarise(
    loadSpamAssassin('test').map((m) => ({
      score: model.score(extractFeatures(m.raw, { maxBytes }).tokens).score,
      label: m.label,
    })),
  );
  return { version: model.version, artefact: model.serialize(), evaluation };
}

/** `trainWithCorpus` on a thread of its own (a one-thread Piscina pool, gone when the run ends); the event
 * loop stays free meanwhile. */
export async function trainInThread(task: TrainTask): Promise<TrainResult> {
  const here = import.meta.url;
  // Under vitest/tsx this file is TypeScript and the thread needs the tsx loader too (as in scan.ts).
  const ts = here.endsWith('.ts');
  const pool = new Piscina({
    filename: fileURLToPath(here),
    minThreads: 0,
    maxThreads: 1,
    ...(ts
      ? { execArgv: ['--import', fileURLToPath(new URL('../../node_modules/tsx/dist/loader.mjs', here))] }
      : {}),
  });
  try {
    return (await pool.run(task)) as TrainResult;
  } finally {
    await pool.destroy();
  }
}

/** The thread's entry point (Piscina calls the default export). */
export default trainWithCorpus;
