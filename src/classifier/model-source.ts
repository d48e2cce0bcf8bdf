/**
 * Where models come from. The default model is trained from the SpamAssassin corpus (TRAIN split) when the
 * package is installed (`npm ci` → `prepare` → `scripts/train-default-model.mjs`), so a fresh clone scores
 * from its first message; if that file is missing it is trained at first use (about 10 s) and saved.
 * Trained versions live in the database's model registry (src/store/models.ts).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RetiredModelFormatError } from '../errors.js';
import type { ModelStore } from '../store/types.js';
import { loadSpamAssassin } from './corpus.js';
import { deserializeModel, type LinearModel, ModelError } from './model.js';
import type { ModelCache } from './model-cache.js';
import { trainModel } from './train.js';
import type { SpamModel } from './types.js';

/** `models/default.model` at the package root (next to dist/ and src/). */
export function defaultModelPath(): string {
  return fileURLToPath(new URL('../../models/default.model', import.meta.url));
}

export function writeAtomically(file: string, data: Buffer | string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

export function trainDefaultModel(): LinearModel {
  return trainModel(loadSpamAssassin('train'), { versionPrefix: 'sa' });
}

/** The default model file; trained when it is missing, damaged or in a retired format. */
export function loadDefaultModel(file = defaultModelPath()): LinearModel {
  if (existsSync(file)) {
    try {
      return deserializeModel(readFileSync(file));
    } catch (err) {
      if (!(err instanceof ModelError || err instanceof RetiredModelFormatError)) throw err;
    }
  }
  const model = trainDefaultModel();
  writeAtomically(file, model.serialize());
  return model;
}

/**
 * The model in force: the active version in the model store, or — on a fresh database — the default model,
 * stored and activated so every instance agrees on it.
 */
export async function ensureActiveModel(models: ModelStore, cache?: ModelCache): Promise<LinearModel> {
  const active = await models.getActive();
  if (active) {
    const cached = await cache?.read(active.version);
    if (cached) return cached;
    const artefact = await models.getArtefact(active.version);
    if (artefact) return cache ? cache.write(active.version, artefact) : deserializeModel(artefact);
  }
  // The shipped file's own bytes are stored: serialising the model again would cost a sort and a gzip of
  // 8 MB on a first start.
  const file = defaultModelPath();
  const shipped: Buffer | null = existsSync(file) ? readFileSync(file) : null;
  let model: LinearModel | null = null;
  try {
    model = shipped ? deserializeModel(shipped) : null;
  } catch {
    model = null;
  }
  let artefact: Buffer;
  if (model && shipped) artefact = shipped;
  else {
    model = loadDefaultModel(file);
    artefact = model.serialize();
  }
  await models.save({
    version: model.version,
    trainingSet: 'spamassassin-train',
    evaluation: null,
    artefact,
  });
  await models.activate(model.version);
  return cache ? cache.write(model.version, artefact) : model;
}
