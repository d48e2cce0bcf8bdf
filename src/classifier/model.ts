/**
 * Model artefacts: which format a stored version is in, and the version tag of a freshly trained model.
 * New versions are LinearModel (MSM2, linear-model.ts); versions stored by earlier releases are MSM1 count
 * models (count-model.ts) and still load and score exactly as they did.
 */
import { gunzipSync } from 'node:zlib';
import { ModelError } from './common.js';
import { deserializeCountModel, type LegacyCountModel } from './count-model.js';
import { deserializeLinearModel, LINEAR_MAGIC, type LinearModel } from './linear-model.js';

export { fnv1a, ModelError } from './common.js';
export { LegacyCountModel } from './count-model.js';
export { LinearModel } from './linear-model.js';

/** A model as stored in the registry: the current format or an earlier one. */
export type StoredModel = LinearModel | LegacyCountModel;
/** Earlier name of StoredModel, kept for callers. */
export type CountModel = StoredModel;

/** Content-derived version tag for a freshly trained model: `<prefix>-<yyyymmdd>-<8 hex>`. */
export function versionFor(model: LinearModel, prefix: string, now = new Date()): string {
  const digest = model.digest().slice(0, 8);
  return `${prefix}-${now.toISOString().slice(0, 10).replaceAll('-', '')}-${digest}`;
}

export function deserializeModel(artefact: Buffer): StoredModel {
  let body: Buffer;
  try {
    body = gunzipSync(artefact);
  } catch {
    throw new ModelError('model artefact is not a gzip stream');
  }
  return deserializeModelBody(body);
}

/** Reads an artefact's uncompressed body (what the start-up cache keeps, see model-cache.ts). */
export function deserializeModelBody(body: Buffer): StoredModel {
  const magic = body.length >= 8 ? body.toString('latin1', 0, 4) : '';
  if (magic === LINEAR_MAGIC) return deserializeLinearModel(body);
  if (magic === 'MSM1') return deserializeCountModel(body);
  throw new ModelError(`model artefact has an unknown format (expected ${LINEAR_MAGIC} or MSM1)`);
}
