/**
 * `mailsentra train [--corpus DIR…]`: trains a new model version (default: the SpamAssassin TRAIN split),
 * prints its evaluation (default corpus: on the TEST split; own corpora: k-fold held-out figures), stores it
 * and makes it active.
 */

import { type CorpusMessage, loadCorpusDir, loadSpamAssassin } from '../classifier/corpus.js';
import { formatEvaluation, summarise } from '../classifier/evaluate.js';
import { extractFeatures } from '../classifier/features.js';
import { modelDirectory } from '../classifier/model-source.js';
import { featuresOf, heldOutEvidence, trainFromFeatures } from '../classifier/train.js';
import type { Command } from '../cli.js';
import { commandConfig, parseArgs } from './context.js';

export const run: Command = async (args, ctx) => {
  const { flags, rest, unknown } = parseArgs(args, { values: ['--corpus'] });
  if (unknown.length > 0 || rest.length > 0) {
    ctx.stderr.write('usage: mailsentra train [--corpus DIR…]\n');
    return 2;
  }
  const config = commandConfig(ctx);
  const dirs = flags.get('--corpus') ?? [];
  const started = performance.now();
  const corpus: CorpusMessage[] =
    dirs.length > 0 ? dirs.flatMap((d) => loadCorpusDir(d)) : loadSpamAssassin('train');
  const items = featuresOf(corpus, config.scanner.maxScanBytes);
  const model = trainFromFeatures(items, {
    maxBytes: config.scanner.maxScanBytes,
    versionPrefix: dirs.length > 0 ? 'site' : 'sa',
  });
  const seconds = (performance.now() - started) / 1000;
  ctx.stdout.write(
    `trained ${model.version} on ${corpus.length} messages in ${seconds.toFixed(1)} s ` +
      `(${model.vocabularySize} features)\n`,
  );

  let evaluation: ReturnType<typeof summarise>;
  if (dirs.length === 0) {
    const test = loadSpamAssassin('test');
    evaluation = summarise(
      test.map((m) => ({
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

  const registry = modelDirectory(config.dataDir);
  registry.save(model);
  registry.activate(model.version);
  ctx.stdout.write(`stored and activated ${model.version} in ${registry.dir}\n`);
  return 0;
};
