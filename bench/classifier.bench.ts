/**
 * Classifier figures: quality on the SpamAssassin TEST split (model trained on TRAIN only; its threshold
 * chosen on TRAIN held-out folds), the same for a model of the message bodies alone, a distribution shift
 * (trained without hard ham, scored on TEST's hard ham: TRAIN's is where settings are chosen, select.bench.ts),
 * scan speed on one core including MIME parsing (wall clock, and per CPU-second, which a busy machine does
 * not distort), training time, artefact size and peak RSS.
 * Prints figures; never fails on them.
 */
import { loadSpamAssassin } from '../src/classifier/corpus.js';
import { formatEvaluation, summarise } from '../src/classifier/evaluate.js';
import { featureStrings, messageVector } from '../src/classifier/feature-list.js';
import { extractFeatures, type FeatureFamily } from '../src/classifier/features.js';
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
let cpu0 = process.cpuUsage();
const model = trainFromFeatures(featuresOf(train, MAX));
const trainSeconds = (performance.now() - t0) / 1000;
const cpuSeconds = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1e6;
const trainCpu = cpuSeconds(process.cpuUsage(cpu0));
const artefact = model.serialize();

// Warm up the stem cache and JIT the way a running service is warm, then measure.
for (const m of test.slice(0, 200)) model.score(messageVector(extractFeatures(m.raw, { maxBytes: MAX })));
const latencies: number[] = [];
const scored: { score: number; label: 'spam' | 'ham' }[] = [];
t0 = performance.now();
cpu0 = process.cpuUsage();
for (const m of test) {
  const s = performance.now();
  const r = model.score(messageVector(extractFeatures(m.raw, { maxBytes: MAX })));
  latencies.push(performance.now() - s);
  scored.push({ score: r.score, label: m.label });
}
const scanSeconds = (performance.now() - t0) / 1000;
const scanCpu = cpuSeconds(process.cpuUsage(cpu0));
sample();
latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  (latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] as number).toFixed(2);

console.log(
  `model ${model.version}: ${model.vocabularySize} features, artefact ${(artefact.length / 1e6).toFixed(2)} MB`,
);
console.log(
  `training on TRAIN (${train.length} messages, incl. parsing): ${trainSeconds.toFixed(1)} s (${trainCpu.toFixed(1)} CPU-s)`,
);
console.log(
  `scan over TEST (${test.length} messages, one core, incl. MIME parsing): ${(test.length / scanSeconds).toFixed(0)} msg/s (${(test.length / scanCpu).toFixed(0)} per CPU-s), p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms`,
);
console.log(`TEST split, default threshold:\n${formatEvaluation(summarise(scored))}`);

// Bodies alone: no header, subject or sender feature (the model must not lean on how a corpus was collected).
const BODY: FeatureFamily[] = ['body', 'osb', 'url'];
const bodyFeatures = (raw: Buffer) => featureStrings(extractFeatures(raw, { maxBytes: MAX, families: BODY }));
const bodyModel = trainFromFeatures(train.map((m) => ({ tokens: bodyFeatures(m.raw), label: m.label })));
const bodyEval = summarise(
  test.map((m) => ({ score: bodyModel.score(bodyFeatures(m.raw)).score, label: m.label })),
);
console.log(
  `TEST split, bodies only (w:, u: features; own TRAIN-chosen threshold):\n${formatEvaluation(bodyEval)}`,
);

// Shift: mail of a kind the model never saw must not come out as spam.
const withoutHard = train.filter((m) => !m.group.startsWith('hard-ham'));
const shifted = trainFromFeatures(featuresOf(withoutHard, MAX));
const hardHam = test.filter((m) => m.group.startsWith('hard-ham'));
const flagged = hardHam.filter(
  (m) => shifted.score(messageVector(extractFeatures(m.raw, { maxBytes: MAX }))).spam,
).length;
console.log(
  `shift: trained without hard-ham, scored on TEST's ${hardHam.length} hard-ham: FPR ${((100 * flagged) / hardHam.length).toFixed(1)} % (${flagged} flagged)`,
);
sample();
clearInterval(timer);
console.log(`peak RSS ${(peakRss / 1e6).toFixed(0)} MB`);
