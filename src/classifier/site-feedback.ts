/**
 * A site's feedback in a retrain: its examples weighted so a few hundred do not drown in the corpus, then
 * taught to the trained model as live feedback taught them to the model it replaces (the retrained version
 * keeps every lesson), and — with enough of it — a fixed quarter held out to compare the candidate with the
 * version active now on the site's own mail.
 */
import { createHash } from 'node:crypto';
import { RetiredModelFormatError } from '../errors.js';
import { summarise } from './evaluate.js';
import type { LinearModel, LinearParams } from './linear-model.js';
import { deserializeModel, versionFor } from './model.js';
import { type LabelledFeatures, trainFromFeatures } from './train.js';
import type { SiteEvaluation, SiteFigures, SpamModel } from './types.js';

/** The share of the training weight a site's feedback gets (when it has fewer examples than that). */
export const SITE_SHARE = 0.25;

/** Times each site example is seen per epoch so the site's examples weigh SITE_SHARE of the total: a few
 * hundred of them must not drown in ~4 500 corpus messages. */
export function siteRepeat(corpus: number, site: number, share = SITE_SHARE): number {
  if (site === 0) return 1;
  return Math.max(1, Math.round((share * corpus) / ((1 - share) * site)));
}

/** How a retrain weighs and learns the site's feedback (defaults: SITE_SHARE, the default parameters). */
export interface SiteTraining {
  share?: number;
  params?: Partial<LinearParams>;
}

/** The training set: the corpus, then the feedback examples weighted by siteRepeat. */
export function weightedTrainingSet(
  corpus: readonly LabelledFeatures[],
  feedback: readonly LabelledFeatures[],
  share = SITE_SHARE,
): LabelledFeatures[] {
  const repeat = siteRepeat(corpus.length, feedback.length, share);
  return [...corpus, ...feedback.map((f) => ({ tokens: f.tokens, label: f.label, repeat }))];
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
  how: SiteTraining = {},
): LinearModel {
  const model = trainFromFeatures(weightedTrainingSet(corpus, feedback, how.share), {
    maxBytes,
    versionPrefix,
    ...(how.params ? { params: how.params } : {}),
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

/** The active version as a baseline, or null when there is none or it is in a retired format. */
function baseline(active: { artefact: Uint8Array } | undefined): LinearModel | null {
  if (!active) return null;
  try {
    return deserializeModel(Buffer.from(active.artefact));
  } catch (err) {
    if (err instanceof RetiredModelFormatError) return null;
    throw err;
  }
}

export interface SiteCheckOptions {
  maxBytes: number;
  versionPrefix: string;
  /** The version active now: compared with the candidate on held-out site feedback. */
  active?: { version: string; artefact: Uint8Array } | undefined;
}

/**
 * The candidate is trained and taught on the site feedback outside the held-out quarter, scored on that
 * quarter, then taught it too (the stored version keeps every lesson). The baseline is the active version
 * taught the same outside lessons, as live feedback would have taught it, scored on the same quarter.
 */
export function trainWithSiteCheck(
  corpus: readonly LabelledFeatures[],
  feedback: readonly (LabelledFeatures & { held: boolean })[],
  options: SiteCheckOptions,
): { model: LinearModel; site: SiteEvaluation | null } {
  const held = feedback.filter((f) => f.held);
  const fit = feedback.filter((f) => !f.held);
  const active = held.length >= MIN_SITE_HELD_OUT ? baseline(options.active) : null;
  if (!active || !options.active)
    return {
      model: trainWithFeedback(corpus, feedback, options.versionPrefix, options.maxBytes),
      site: null,
    };
  const model = trainWithFeedback(corpus, fit, options.versionPrefix, options.maxBytes);
  const candidate = siteFigures(model, held);
  for (const f of held) model.learn(f.tokens, f.label);
  model.version = versionFor(model, options.versionPrefix);
  for (const f of fit) active.learn(f.tokens, f.label);
  const site: SiteEvaluation = {
    ham: held.filter((f) => f.label === 'ham').length,
    spam: held.filter((f) => f.label === 'spam').length,
    candidate,
    baseline: { ...siteFigures(active, held), version: options.active.version },
  };
  return { model, site };
}
