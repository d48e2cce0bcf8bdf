// Runs at install (npm's prepare, after tsc): trains the default model from the SpamAssassin corpus's TRAIN
// split into models/default.model, so `npx mailsentra scan` scores well from the first message. A file that
// is damaged or in a retired format is replaced.
import { existsSync, statSync } from 'node:fs';
import { defaultModelPath, loadDefaultModel } from '../dist/classifier/model-source.js';

const file = defaultModelPath();
const started = performance.now();
const before = existsSync(file) ? statSync(file).mtimeMs : null;
const model = loadDefaultModel(file);
const existed = before !== null && statSync(file).mtimeMs === before;
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  existed
    ? `default model ${model.version} already present`
    : `trained default model ${model.version} in ${seconds} s`,
);
