/**
 * Classifier figures: quality on the SpamAssassin TEST split (model trained on TRAIN only), a distribution
 * shift (trained without hard ham, scored on hard ham), scan speed on one core including MIME parsing,
 * training time, artefact size and peak RSS. Prints figures; never fails on them.
 */
import { loadSpamAssassin } from '../src/classifier/corpus.js';
import { formatEvaluation, summarise } from '../src/classifier/evaluate.js';
import { extractFeatures } from '../src/classifier/features.js';
import { featuresOf, trainFromFeatures } from '../src/classifier/train.js';

const MAX = 512_000;
let peakRss = process.memoryUsage().rss;
const sample = () => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};
const timer = setInterval(sample, 20);

const train = loadSpamAssassin('train');
const test = loadSpamAssassin('test');

let t0 = performance.now();
const model = trainFromFeatures(featuresOf(train, MAX));
const trainSeconds = (performance.now() - t0) / 1000;
const artefact = model.serialize();

// Warm up the stem cache and JIT the way a running service is warm, then measure.
for (const m of test.slice(0, 200)) model.score(extractFeatures(m.raw, { maxBytes: MAX }).tokens);
const latencies: number[] = [];
const scored: { score: number; label: 'spam' | 'ham' }[] = [];
t0 = performance.now();
for (const m of test) {
  const s = performance.now();
  const r = model.score(extractFeatures(m.raw, { maxBytes: MAX }).tokens);
  latencies.push(performance.now() - s);
  scored.push({ score: r.score, label: m.label });
}
const scanSeconds = (performance.now() - t0) / 1000;
sample();
latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  (latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] as number).toFixed(2);

console.log(
  `model ${model.version}: ${model.vocabularySize} features, artefact ${(artefact.length / 1e6).toFixed(2)} MB`,
);
console.log(`training on TRAIN (${train.length} messages, incl. parsing): ${trainSeconds.toFixed(1)} s`);
console.log(
  `scan over TEST (${test.length} messages, one core, incl. MIME parsing): ${(test.length / scanSeconds).toFixed(0)} msg/s, p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms`,
);
console.log(`TEST split, default threshold:\n${formatEvaluation(summarise(scored))}`);

// Shift: mail of a kind the model never saw must not come out as spam.
const withoutHard = train.filter((m) => !m.group.startsWith('hard-ham'));
const shifted = trainFromFeatures(featuresOf(withoutHard, MAX));
const hardHam = [...train, ...test].filter((m) => m.group.startsWith('hard-ham'));
const flagged = hardHam.filter(
  (m) => shifted.score(extractFeatures(m.raw, { maxBytes: MAX }).tokens).spam,
).length;
console.log(
  `shift: trained without hard-ham, scored on all ${hardHam.length} hard-ham: FPR ${((100 * flagged) / hardHam.length).toFixed(1)} % (${flagged} flagged)`,
);
sample();
clearInterval(timer);
console.log(`peak RSS ${(peakRss / 1e6).toFixed(0)} MB`);
