// Runs at install (npm's prepare, after tsc): trains the default model from the SpamAssassin corpus's TRAIN
// split into models/default.model, so `npx mailsentra scan` scores well from the first message.
import { existsSync } from 'node:fs';
import { defaultModelPath, loadDefaultModel } from '../dist/classifier/model-source.js';

const file = defaultModelPath();
const started = performance.now();
const existed = existsSync(file);
const model = loadDefaultModel(file);
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  existed
    ? `default model ${model.version} already present`
    : `trained default model ${model.version} in ${seconds} s`,
);
