/**
 * The start-up cache of model artefacts: `<dataDir>/models/cache/<version>.image`, the model as loaded in
 * memory (model-image.ts). Loading the active version at start then costs one file read instead of fetching
 * a 4 MB bytea from the database, gunzipping it and
 * rebuilding its feature table. A version's artefact never changes, so the file is valid as long as it
 * parses; a damaged one is ignored and rewritten. Only the latest version loaded is kept (one file, the size
 * of the model in memory: about 32 MB for the default model).
 */

import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { LinearModel } from './linear-model.js';
import { deserializeModelBody } from './model.js';
import { decodeModelImage, encodeModelImage } from './model-image.js';

export interface ModelCache {
  /** The version's model, or null when it is not cached (or the file is unreadable). */
  read(version: string): LinearModel | null;
  /** Keeps `artefact` (gzip, as stored) for `version`; returns the model it holds. */
  write(version: string, artefact: Buffer): LinearModel;
}

/** Versions are `<prefix>-<date>-<hex>`; anything else is not used as a file name. */
const SAFE = /^[A-Za-z0-9._-]{1,128}$/;

export function createModelCache(dataDir: string): ModelCache {
  const dir = path.resolve(dataDir, 'models', 'cache');
  const fileOf = (version: string) => (SAFE.test(version) ? path.join(dir, `${version}.image`) : null);
  return {
    read(version) {
      const file = fileOf(version);
      if (!file) return null;
      try {
        const model = decodeModelImage(readFileSync(file));
        return model.version === version ? model : null;
      } catch {
        return null;
      }
    },
    write(version, artefact) {
      const body = gunzipSync(artefact);
      const model = deserializeModelBody(body);
      const file = fileOf(version);
      if (!file) return model;
      try {
        mkdirSync(dir, { recursive: true });
        for (const old of readdirSync(dir)) rmSync(path.join(dir, old), { force: true });
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, encodeModelImage(model));
        renameSync(tmp, file);
      } catch {
        // A read-only or full data directory costs the next start a database read, nothing more.
      }
      return model;
    },
  };
}
