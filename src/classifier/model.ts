/**
 * Model artefacts: which format a stored version is in, and the version tag of a freshly trained model.
 * The one format read is MSM2 (LinearModel, linear-format.ts). A version in a retired format is refused with
 * a RetiredModelFormatError naming the step that replaces it, never scored by a second implementation.
 */
import { gunzipSync } from 'node:zlib';
import { RetiredModelFormatError } from '../errors.js';
import { ModelError } from './common.js';
import { LINEAR_MAGIC } from './linear-format.js';
import { deserializeLinearModel, type LinearModel } from './linear-model.js';

export { fnv1a, ModelError } from './common.js';
export { LinearModel } from './linear-model.js';

/** Formats no longer read: the count model (MSM1). Their header also starts with a JSON `version`. */
const RETIRED_FORMATS = new Set(['MSM1']);

/** Content-derived version tag for a freshly trained model: `<prefix>-<yyyymmdd>-<8 hex>`. */
export function versionFor(model: LinearModel, prefix: string, now = new Date()): string {
  const digest = model.digest().slice(0, 8);
  return `${prefix}-${now.toISOString().slice(0, 10).replaceAll('-', '')}-${digest}`;
}

export function deserializeModel(artefact: Buffer): LinearModel {
  let body: Buffer;
  try {
    body = gunzipSync(artefact);
  } catch {
    throw new ModelError('model artefact is not a gzip stream');
  }
  return deserializeModelBody(body);
}

/** The version named in a retired artefact's header, for the refusal's message (null when unreadable). */
function retiredVersion(body: Buffer): string | null {
  try {
    const header: unknown = JSON.parse(body.toString('utf8', 8, 8 + body.readUInt32LE(4)));
    const version = (header as { version?: unknown } | null)?.version;
    return typeof version === 'string' ? version : null;
  } catch {
    return null;
  }
}

/** Reads an artefact's uncompressed body (what the start-up cache keeps, see model-cache.ts). */
export function deserializeModelBody(body: Buffer): LinearModel {
  const magic = body.length >= 8 ? body.toString('latin1', 0, 4) : '';
  if (magic === LINEAR_MAGIC) return deserializeLinearModel(body);
  if (RETIRED_FORMATS.has(magic)) throw new RetiredModelFormatError(magic, retiredVersion(body));
  throw new ModelError(`model artefact has an unknown format (expected ${LINEAR_MAGIC})`);
}
