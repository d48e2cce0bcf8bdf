/**
 * A training run (corpus features, fit, held-out evaluation: ~7 s of CPU on 2 cores) on a worker thread of
 * its own. Run on the service's event loop it stalled every SMTP session, /health and /metrics for as long.
 * One module is both sides: `trainInThread` runs this same file's default export on the thread.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { loadSpamAssassin } from './corpus.js';
import { summarise } from './evaluate.js';
import { extractFeatures } from './features.js';
import { LinearModel } from './linear-model.js';
import { deserializeModel, versionFor } from './model.js';
import { featuresOf, type LabelledFeatures, trainFromFeatures } from './train.js';
import type { Evaluation, Label, SiteEvaluation, SiteFigures, SpamModel } from './types.js';

export interface TrainTask {
  maxBytes: number;
  /** Site feedback to learn beside the SpamAssassin TRAIN split. */
  feedback: { raw: Uint8Array; label: Label }[];
  versionPrefix: string;
  /** The version active now: compared with the candidate on held-out site feedback. */
  active?: { version: string; artefact: Uint8Array };
}

export interface TrainResult {
  version: string;
  artefact: Uint8Array;
  /** On the SpamAssassin TEST split. */
  evaluation: Evaluation;
}

/** The share of the training weight a site's feedback gets (when it has fewer examples than that). */
export const SITE_SHARE = 0.25;

/** Times each site example is seen per epoch so the site's examples weigh SITE_SHARE of the total: a few
 * hundred of them must not drown in ~4 500 corpus messages. */
export function siteRepeat(corpus: number, site: number): number {
  if (site === 0) return 1;
  return Math.max(1, Math.round((SITE_SHARE * corpus) / ((1 - SITE_SHARE) * site)));
}

/**
 * Corpus plus site feedback: the site's examples weighted (siteRepeat), then its lessons taught to the
 * trained model as live feedback taught them to the model it replaces, in the order given. The incremental
 * model is the old weights plus those lessons; the retrained one is better weights plus the same lessons,
 * so a retrain does not lose what feedback taught.
 */
export function trainWithFeedback(
  corpus: readonly LabelledFeatures[],
  feedback: readonly LabelledFeatures[],
  versionPrefix: string,
  maxBytes: number,
) {
  const repeat = siteRepeat(corpus.length, feedback.length);
  const model = trainFromFeatures([...corpus, ...feedback.map((f) => ({ ...f, repeat }))], {
    maxBytes,
    versionPrefix,
  });
  if (feedback.length === 0) return model;
  for (const f of feedback) model.learn(f.tokens, f.label);
  model.version = versionFor(model, versionPrefix);
  return model;
}

/** Site feedback is held out for the activation check only when there is at least this much of it. */
export const MIN_SITE_HELD_OUT = 10;

/** The fixed quarter of site feedback held out: by content, so a message is always on the same side. */
export function isHeldOutFeedback(raw: Uint8Array): boolean {
  return /^[0-3]/.test(createHash('sha256').update(raw).digest('hex'));
}

function siteFigures(model: SpamModel, held: readonly LabelledFeatures[]): SiteFigures {
  const e = summarise(held.map((f) => ({ score: model.score(f.tokens).score, label: f.label })));
  return { falsePositives: e.falsePositives, falseNegatives: e.falseNegatives, rocAuc: e.rocAuc };
}

/**
 * The candidate is trained and taught on the site feedback outside the held-out quarter, scored on that
 * quarter, then taught it too (the stored version keeps every lesson). The baseline is the active version
 * taught the same outside lessons, as live feedback would have taught it, scored on the same quarter.
 */
export function trainWithSiteCheck(
  corpus: readonly LabelledFeatures[],
  feedback: readonly (LabelledFeatures & { held: boolean })[],
  task: TrainTask,
): { model: LinearModel; site: SiteEvaluation | null } {
  const held = feedback.filter((f) => f.held);
  const fit = feedback.filter((f) => !f.held);
  const active = task.active ? deserializeModel(Buffer.from(task.active.artefact)) : null;
  if (held.length < MIN_SITE_HELD_OUT || !task.active || !(active instanceof LinearModel))
    return { model: trainWithFeedback(corpus, feedback, task.versionPrefix, task.maxBytes), site: null };
  const model = trainWithFeedback(corpus, fit, task.versionPrefix, task.maxBytes);
  const candidate = siteFigures(model, held);
  for (const f of held) model.learn(f.tokens, f.label);
  model.version = versionFor(model, task.versionPrefix);
  for (const f of fit) active.learn(f.tokens, f.label);
  const site: SiteEvaluation = {
    ham: held.filter((f) => f.label === 'ham').length,
    spam: held.filter((f) => f.label === 'spam').length,
    candidate,
    baseline: { ...siteFigures(active, held), version: task.active.version },
  };
  return { model, site };
}

/** Trains on the SpamAssassin TRAIN split plus `task.feedback` and evaluates on TEST, in this thread. */
export function trainWithCorpus(task: TrainTask): TrainResult {
  const { maxBytes } = task;
  const feedback = task.feedback.map((f) => ({
    tokens: extractFeatures(Buffer.from(f.raw.buffer, f.raw.byteOffset, f.raw.byteLength), { maxBytes })
      .tokens,
    label: f.label,
    held: isHeldOutFeedback(f.raw),
  }));
  const { model, site } = trainWithSiteCheck(featuresOf(loadSpamAssassin('train'), maxBytes), feedback, task);
  const evaluation: Evaluation = summarise(
    loadSpamAssassin('test').map((m) => ({
      score: model.score(extractFeatures(m.raw, { maxBytes }).tokens).score,
      label: m.label,
    })),
  );
  if (site) evaluation.site = site;
  return { version: model.version, artefact: model.serialize(), evaluation };
}

/** `trainWithCorpus` on a thread of its own (a one-thread Piscina pool, gone when the run ends); the event
 * loop stays free meanwhile. */
export async function trainInThread(task: TrainTask): Promise<TrainResult> {
  const here = import.meta.url;
  // Under vitest/tsx this file is TypeScript and the thread needs the tsx loader too (as in scan.ts).
  const ts = here.endsWith('.ts');
  const pool = new Piscina({
    // This module's file by name, not `here`: in the bundled build `here` is the bundle that imported it, and
    // the thread's entry is emitted beside it.
    filename: fileURLToPath(new URL(`./train-thread.${ts ? 'ts' : 'js'}`, here)),
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
