/**
 * `mailsentra train [--corpus DIR…] [--ham PATH…] [--spam PATH…] [--with-default-corpus]`: trains a new model
 * version (default: the SpamAssassin TRAIN split; the site's feedback is always added), prints its evaluation
 * (default corpus: on the TEST split; the site's mail: 5-fold held-out figures on it) and the held-out
 * trade-off between false positives and recall, stores it and makes it active — all under the training
 * lock, so only one instance trains at a time. With a service running on the embedded store, it stores and
 * activates through that service (service.ts).
 */

import { type CorpusMessage, loadCorpusDir, loadLabelledPath } from '../classifier/corpus.js';
import { formatEvaluation } from '../classifier/evaluate.js';
import type { LinearModel } from '../classifier/linear-model.js';
import { writeActiveMirror } from '../classifier/model-mirror.js';
import { formatTradeOff, tradeOffTable } from '../classifier/threshold.js';
import { type RawLabelled, trainVersion } from '../classifier/train-version.js';
import type { Command, CommandContext } from '../cli.js';
import type { Config } from '../config/schema.js';
import type { ControlClient } from '../control/client.js';
import type { FeedbackItem } from '../control/protocol.js';
import { CliError } from '../errors.js';
import { TRAINING_FEEDBACK_LIMIT } from '../pipeline/feedback-replay.js';
import { announceActivation } from '../store/model-sync.js';
import type { ModelStore, Storage } from '../store/types.js';
import { commandConfig, parseArgs, usageError, withStorage } from './context.js';
import { createProgress } from './progress.js';
import { runningService } from './service.js';

/** Where a trained version goes: the store this process opened, or a running service's (service.ts). */
interface TrainingTarget {
  feedback(until: Date): AsyncIterable<RawLabelled>;
  storeAndActivate(
    record: Parameters<ModelStore['save']>[0] & { createdAt: Date },
    model: LinearModel,
  ): Promise<void>;
}

function localTarget(storage: Storage, config: Config, ctx: CommandContext): TrainingTarget {
  return {
    feedback: (until) => storage.feedback.forTraining(until, TRAINING_FEEDBACK_LIMIT),
    async storeAndActivate(record, model) {
      await storage.models.save(record);
      await storage.models.activate(record.version);
      // Running instances hear of it at once, as of an activation through the API.
      if (config.database.url !== null && config.redis.url !== null)
        if (!(await announceActivation(config.redis.url, record.version)))
          ctx.stderr.write(
            `mailsentra: could not announce ${record.version} on Redis; instances load it at their next check (database.syncIntervalSeconds)\n`,
          );
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
      for (const item of items)
        yield { raw: Buffer.from(item.raw, 'base64'), label: item.label, authSignals: item.authSignals };
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

/** What to train on, as the command line gave it. */
export interface TrainSources {
  /** `--corpus DIR`: DIR/ham and DIR/spam. */
  dirs: string[];
  /** `--ham PATH`, `--spam PATH`: a folder, a Maildir or an mbox file each. */
  ham: string[];
  spam: string[];
  /** `--with-default-corpus`: the SpamAssassin TRAIN split beside the site's own mail. */
  withDefault: boolean;
}

const isSiteTraining = (s: TrainSources) => s.dirs.length + s.ham.length + s.spam.length > 0;

function describeSources(s: TrainSources): string {
  const parts = [
    ...s.dirs.map((d) => `corpus:${d}`),
    ...s.ham.map((p) => `ham:${p}`),
    ...s.spam.map((p) => `spam:${p}`),
  ];
  if (!isSiteTraining(s) || s.withDefault) parts.push('spamassassin-train');
  return parts.join(',');
}

/** The site's messages, read before the store is opened so a wrong path is answered at once. */
export function loadSources(s: TrainSources): CorpusMessage[] {
  const site = [
    ...s.dirs.flatMap((d) => loadCorpusDir(d)),
    ...s.ham.flatMap((p) => loadLabelledPath(p, 'ham')),
    ...s.spam.flatMap((p) => loadLabelledPath(p, 'spam')),
  ];
  // The bundled corpus has both labels; the site's mail alone must have them.
  if (isSiteTraining(s) && !s.withDefault)
    for (const label of ['ham', 'spam'] as const) {
      if (!site.some((m) => m.label === label))
        throw new CliError(
          'NO_INPUT',
          66,
          `no ${label} messages to train on: give --${label} PATH (or --corpus DIR with DIR/${label}), or add --with-default-corpus`,
        );
    }
  return site;
}

async function trainAndStore(
  sources: TrainSources,
  site: CorpusMessage[],
  config: Config,
  target: TrainingTarget,
  ctx: CommandContext,
): Promise<void> {
  const started = performance.now();
  const progress = createProgress(ctx.stderr);
  // The site's feedback too, as the API's training has it: the new version is dated when it was read, so the
  // services that load it replay only what came later.
  const feedbackUntil = new Date();
  const feedback: RawLabelled[] = [];
  for await (const f of target.feedback(feedbackUntil)) feedback.push(f);
  const trained = trainVersion(
    {
      maxBytes: config.scanner.maxScanBytes,
      versionPrefix: isSiteTraining(sources) ? 'site' : 'sa',
      site,
      bundled: !isSiteTraining(sources) || sources.withDefault,
      feedback,
      sources: describeSources(sources),
    },
    progress,
  );
  progress.end();
  const { model, evaluation, margins } = trained;
  const seconds = (performance.now() - started) / 1000;
  ctx.stdout.write(
    `trained ${model.version} on ${trained.messages} messages and ${feedback.length} feedback examples in ${seconds.toFixed(1)} s (${model.vocabularySize} features)\n`,
  );
  ctx.stdout.write(
    trained.measuredOn === 'spamassassin-test'
      ? 'evaluation on the SpamAssassin TEST split:\n'
      : `evaluation, 5-fold held-out on the given corpus${sources.withDefault ? ' (its own messages; trained with the bundled corpus)' : ''}:\n`,
  );
  ctx.stdout.write(`${formatEvaluation(evaluation)}\n`);
  const table = tradeOffTable(margins, (score) => model.marginAt(score));
  ctx.stdout.write(`${formatTradeOff(table, evaluation.ham, evaluation.spam)}\n`);

  await target.storeAndActivate(
    {
      version: model.version,
      trainingSet: trained.trainingSet,
      evaluation,
      artefact: model.serialize(),
      createdAt: feedbackUntil,
    },
    model,
  );
  ctx.stdout.write(`stored and activated ${model.version}\n`);
}

const USAGE =
  'usage: mailsentra train [--corpus DIR…] [--ham PATH…] [--spam PATH…] [--with-default-corpus] (DIR holds ham/ and spam/; a PATH is a folder, a Maildir or an mbox file)';

export const run: Command = async (args, ctx) => {
  const { flags, bools, rest } = parseArgs(args, {
    values: ['--corpus', '--ham', '--spam'],
    booleans: ['--with-default-corpus'],
    usage: USAGE,
  });
  if (rest.length > 0) throw usageError(`unexpected '${rest[0]}'`, USAGE);
  const config = commandConfig(ctx);
  const sources: TrainSources = {
    dirs: flags.get('--corpus') ?? [],
    ham: flags.get('--ham') ?? [],
    spam: flags.get('--spam') ?? [],
    withDefault: bools.has('--with-default-corpus'),
  };
  const site = loadSources(sources);
  const busy = () => {
    ctx.stderr.write('mailsentra: another instance is training a model now; try again when it is done\n');
    return 1;
  };
  const service = await runningService(config, ctx);
  if (service) {
    try {
      // Held by the service for as long as this connection stays open.
      if (!(await service.call('train.lock', {})).locked) return busy();
      await trainAndStore(sources, site, config, serviceTarget(service), ctx);
      return 0;
    } finally {
      service.close();
    }
  }
  return withStorage(config, async (storage) => {
    const done = await storage.models.withTrainingLock(async () => {
      await trainAndStore(sources, site, config, localTarget(storage, config, ctx), ctx);
      return true;
    });
    return done ? 0 : busy();
  });
};
