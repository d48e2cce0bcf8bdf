/**
 * One training run, whoever asks for it — `mailsentra train` in its own process, POST /api/v1/models/train
 * on a thread of the service (train-thread.ts): read the corpus and the site's feedback, train (the feedback
 * weighted, then taught; site-feedback.ts), evaluate, and name what the version was trained on. Storing and
 * activating stay with the caller: the command activates at once, the API leaves that to an admin.
 */
import { loadSpamAssassin } from './corpus.js';
import { summarise } from './evaluate.js';
import { featureStrings, messageVector } from './feature-list.js';
import { extractFeatures } from './features.js';
import type { LinearModel } from './linear-model.js';
import { signalFeatures } from './signals.js';
import {
  isHeldOutFeedback,
  type SiteCheckOptions,
  trainWithSiteCheck,
  weightedTrainingSet,
} from './site-feedback.js';
import type { Margin } from './threshold.js';
import { heldOutEvidence, type LabelledFeatures } from './train.js';
import type { Evaluation, Label } from './types.js';

/** A labelled message as read from a corpus, a mailbox or the feedback store. */
export interface RawLabelled {
  raw: Uint8Array;
  label: Label;
  /** Feedback only: the sender-authentication signals the message was scanned with, learned with it. */
  authSignals?: readonly string[];
}

export interface TrainRequest extends SiteCheckOptions {
  /** The site's own mail. When given, the version is measured on it by k-fold held-out figures. */
  site: readonly RawLabelled[];
  /** Train on the SpamAssassin TRAIN split too; with no site mail it is measured on the TEST split. */
  bundled: boolean;
  /** The site's feedback (the latest label of each content). */
  feedback: readonly RawLabelled[];
  /** What the version's `trainingSet` names before `+feedback:N`. */
  sources: string;
}

export interface TrainedVersion {
  model: LinearModel;
  evaluation: Evaluation;
  /** Where the evaluation was measured, and the margins it was read off (the trade-off table reads them). */
  measuredOn: 'spamassassin-test' | 'site-held-out';
  margins: Margin[];
  trainingSet: string;
  /** Messages trained on, apart from feedback. */
  messages: number;
}

/** How a long run reports where it is (commands/progress.ts draws it on a terminal). */
export interface TrainProgress {
  step(label: string, total?: number): void;
  tick(done: number): void;
}

const SILENT: TrainProgress = { step() {}, tick() {} };

/** Folds of the held-out figures on a site's own mail. */
const SITE_FOLDS = 5;

function extractLabelled(
  messages: readonly RawLabelled[],
  maxBytes: number,
  progress: TrainProgress,
  label: string,
): LabelledFeatures[] {
  if (messages.length > 0) progress.step(label, messages.length);
  return messages.map((m, i) => {
    progress.tick(i + 1);
    const raw = Buffer.from(m.raw.buffer, m.raw.byteOffset, m.raw.byteLength);
    const tokens = featureStrings(extractFeatures(raw, { maxBytes }));
    return { tokens: m.authSignals ? [...tokens, ...signalFeatures(m.authSignals)] : tokens, label: m.label };
  });
}

export function trainVersion(request: TrainRequest, progress: TrainProgress = SILENT): TrainedVersion {
  const { maxBytes } = request;
  const site = extractLabelled(request.site, maxBytes, progress, 'reading site messages');
  const bundled = request.bundled
    ? extractLabelled(loadSpamAssassin('train'), maxBytes, progress, 'reading the bundled corpus')
    : [];
  const feedback = extractLabelled(request.feedback, maxBytes, progress, 'reading the site feedback').map(
    (f, i) => ({ ...f, held: isHeldOutFeedback((request.feedback[i] as RawLabelled).raw) }),
  );
  // Site first: its held-out figures are read off the first slice of the training set.
  const corpus = [...site, ...bundled];
  progress.step(
    `training on ${corpus.length + feedback.length} messages (5 held-out passes, then the final one)`,
  );
  const { model, site: siteCheck } = trainWithSiteCheck(corpus, feedback, request);
  let margins: Margin[];
  if (site.length === 0) {
    progress.step('scoring the SpamAssassin TEST split');
    margins = loadSpamAssassin('test').map((m) => ({
      z: model.margin(messageVector(extractFeatures(m.raw, { maxBytes }))),
      label: m.label,
    }));
  } else {
    progress.step(`held-out evaluation (${SITE_FOLDS} passes)`);
    // Figures on the site's own mail: the bundled corpus, when added, trains but is not what is measured.
    margins = heldOutEvidence(weightedTrainingSet(corpus, feedback), model, SITE_FOLDS).slice(0, site.length);
  }
  const evaluation = summarise(margins.map((m) => ({ score: model.probability(m.z), label: m.label })));
  if (siteCheck) evaluation.site = siteCheck;
  return {
    model,
    evaluation,
    measuredOn: site.length === 0 ? 'spamassassin-test' : 'site-held-out',
    margins,
    trainingSet: `${request.sources}+feedback:${feedback.length}`,
    messages: corpus.length,
  };
}
