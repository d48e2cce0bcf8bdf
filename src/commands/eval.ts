/** `mailsentra eval [--corpus DIR]`: evaluates the active model (default: the SpamAssassin TEST split). */

import { loadCorpusDir, loadSpamAssassin } from '../classifier/corpus.js';
import { formatEvaluation, summarise } from '../classifier/evaluate.js';
import { messageVector } from '../classifier/feature-list.js';
import { extractFeatures } from '../classifier/features.js';
import type { Command } from '../cli.js';
import { activeModelFor, commandConfig, parseArgs, usageError } from './context.js';

const USAGE = 'usage: mailsentra eval [--corpus DIR] [--json]';

export const run: Command = async (args, ctx) => {
  const { flags, rest } = parseArgs(args, { values: ['--corpus'], booleans: ['--json'], usage: USAGE });
  const dirs = flags.get('--corpus') ?? [];
  if (rest.length > 0) throw usageError(`unexpected '${rest[0]}'`, USAGE);
  if (dirs.length > 1) throw usageError('--corpus given more than once (eval reads one corpus)', USAGE);
  const config = commandConfig(ctx);
  const model = await activeModelFor(config, ctx);
  const corpus = dirs[0] ? loadCorpusDir(dirs[0]) : loadSpamAssassin('test');
  const evaluation = summarise(
    corpus.map((m) => ({
      score: model.score(messageVector(extractFeatures(m.raw, { maxBytes: config.scanner.maxScanBytes })))
        .score,
      label: m.label,
    })),
  );
  if (args.includes('--json'))
    ctx.stdout.write(`${JSON.stringify({ model: model.version, ...evaluation })}\n`);
  else {
    ctx.stdout.write(`model ${model.version} on ${dirs[0] ?? 'the SpamAssassin TEST split'}:\n`);
    ctx.stdout.write(`${formatEvaluation(evaluation)}\n`);
  }
  return 0;
};
