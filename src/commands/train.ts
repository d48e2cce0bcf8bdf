/**
 * `mailsentra train [--corpus DIR…]`: trains a new model version (default: the SpamAssassin TRAIN split; the
 * site's feedback is always added),
 * prints its evaluation (default corpus: on the TEST split; own corpora: 5-fold held-out figures), stores it
 * and makes it active — all under the training lock, so only one instance trains at a time.
 */

import { type CorpusMessage, loadCorpusDir, loadSpamAssassin } from '../classifier/corpus.js';
import { formatEvaluation, summarise } from '../classifier/evaluate.js';
import { extractFeatures } from '../classifier/features.js';
import type { LinearModel } from '../classifier/linear-model.js';
import { writeActiveMirror } from '../classifier/model-source.js';
import {
  featuresOf,
  heldOutEvidence,
  type LabelledFeatures,
  trainFromFeatures,
} from '../classifier/train.js';
import type { Evaluation, Label } from '../classifier/types.js';
import type { Command, CommandContext } from '../cli.js';
import type { Config } from '../config/schema.js';
import type { ControlClient } from '../control/client.js';
import type { FeedbackItem } from '../control/protocol.js';
import { TRAINING_FEEDBACK_LIMIT } from '../pipeline/feedback-replay.js';
import type { ModelStore, Storage } from '../store/types.js';
import { commandConfig, parseArgs, withStorage } from './context.js';
import { runningService } from './service.js';

/** Where a trained version goes: the store this process opened, or a running service's (service.ts). */
interface TrainingTarget {
  feedback(until: Date): AsyncIterable<{ raw: Uint8Array; label: Label }>;
  storeAndActivate(
    record: Parameters<ModelStore['save']>[0] & { createdAt: Date },
    model: LinearModel,
  ): Promise<void>;
}

function localTarget(storage: Storage, config: Config): TrainingTarget {
  return {
    feedback: (until) => storage.feedback.forTraining(until, TRAINING_FEEDBACK_LIMIT),
    async storeAndActivate(record, model) {
      await storage.models.save(record);
      await storage.models.activate(record.version);
      // The file one-shot commands read the active model from (model-source.ts); a service keeps its own.
      if (config.database.url === null) writeActiveMirror(config.dataDir, model);
    },
  };
}

/** The service reads the feedback, stores the version and activates it in itself (with the feedback
 * replayed onto it); the CPU-heavy training stays in this process, off the service's event loop. */
function serviceTarget(service: ControlClient): TrainingTarget {
  return {
    async *feedback(until) {
      const items: FeedbackItem[] = [];
      await service.call(
        'feedback.forTraining',
        { until: until.toISOString(), limit: TRAINING_FEEDBACK_LIMIT },
        (i) => items.push(i as FeedbackItem),
      );
      for (const item of items) yield { raw: Buffer.from(item.raw, 'base64'), label: item.label };
    },
    async storeAndActivate(record) {
      await service.call('models.storeAndActivate', {
        version: record.version,
        trainingSet: record.trainingSet,
        evaluation: record.evaluation,
        artefact: record.artefact.toString('base64'),
        createdAt: record.createdAt.toISOString(),
      });
    },
  };
}

async function trainAndStore(
  dirs: string[],
  config: Config,
  target: TrainingTarget,
  ctx: CommandContext,
): Promise<void> {
  const started = performance.now();
  const maxBytes = config.scanner.maxScanBytes;
  const corpus: CorpusMessage[] =
    dirs.length > 0 ? dirs.flatMap((d) => loadCorpusDir(d)) : loadSpamAssassin('train');
  // The site's feedback too, as the API's training does: the new version is dated when it was read, so the
  // services that load it replay only what came later (without it, activating this version forgot every
  // report made before).
  const feedbackUntil = new Date();
  const feedback: LabelledFeatures[] = [];
  for await (const f of target.feedback(feedbackUntil))
    feedback.push({ tokens: extractFeatures(Buffer.from(f.raw), { maxBytes }).tokens, label: f.label });
  const items = [...featuresOf(corpus, maxBytes), ...feedback];
  const model = trainFromFeatures(items, {
    maxBytes: config.scanner.maxScanBytes,
    versionPrefix: dirs.length > 0 ? 'site' : 'sa',
  });
  const seconds = (performance.now() - started) / 1000;
  ctx.stdout.write(
    `trained ${model.version} on ${corpus.length} messages and ${feedback.length} feedback examples in ${seconds.toFixed(1)} s (${model.vocabularySize} features)\n`,
  );

  let evaluation: Evaluation;
  if (dirs.length === 0) {
    evaluation = summarise(
      loadSpamAssassin('test').map((m) => ({
        score: model.score(extractFeatures(m.raw, { maxBytes: config.scanner.maxScanBytes }).tokens).score,
        label: m.label,
      })),
    );
    ctx.stdout.write('evaluation on the SpamAssassin TEST split:\n');
  } else {
    const { a, t } = model.params;
    evaluation = summarise(
      heldOutEvidence(items, model, 5).map((h) => ({
        score: 1 / (1 + Math.exp(-a * (h.z - t))),
        label: h.label,
      })),
    );
    ctx.stdout.write('evaluation, 5-fold held-out on the given corpus:\n');
  }
  ctx.stdout.write(`${formatEvaluation(evaluation)}\n`);

  await target.storeAndActivate(
    {
      version: model.version,
      trainingSet: `${dirs.length > 0 ? `corpus:${dirs.join(',')}` : 'spamassassin-train'}+feedback:${feedback.length}`,
      evaluation,
      artefact: model.serialize(),
      createdAt: feedbackUntil,
    },
    model,
  );
  ctx.stdout.write(`stored and activated ${model.version}\n`);
}

export const run: Command = async (args, ctx) => {
  const { flags, rest, unknown } = parseArgs(args, { values: ['--corpus'] });
  if (unknown.length > 0 || rest.length > 0) {
    ctx.stderr.write('usage: mailsentra train [--corpus DIR…]\n');
    return 2;
  }
  const config = commandConfig(ctx);
  const dirs = flags.get('--corpus') ?? [];
  const busy = () => {
    ctx.stderr.write('mailsentra: another instance is training a model now; try again when it is done\n');
    return 1;
  };
  const service = await runningService(config, ctx);
  if (service) {
    try {
      // Held by the service for as long as this connection stays open.
      if (!(await service.call('train.lock', {})).locked) return busy();
      await trainAndStore(dirs, config, serviceTarget(service), ctx);
      return 0;
    } finally {
      service.close();
    }
  }
  return withStorage(config, async (storage) => {
    const done = await storage.models.withTrainingLock(async () => {
      await trainAndStore(dirs, config, localTarget(storage, config), ctx);
      return true;
    });
    return done ? 0 : busy();
  });
};
