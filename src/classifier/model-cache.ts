/**
 * The start-up cache of model artefacts: `<dataDir>/models/cache/<version>.image`, the model as loaded in
 * memory (model-image.ts). Loading the active version at start then costs one file read instead of fetching
 * a 4 MB bytea from the database, gunzipping it and
 * rebuilding its feature table. A version's artefact never changes, so the file is valid as long as it
 * parses; a damaged one is ignored and rewritten. Only the latest version loaded is kept (one file, the size
 * of the model in memory: about 32 MB for the default model).
 */

import {
  close,
  mkdirSync,
  openSync,
  readdirSync,
  readFile,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { LinearModel } from './linear-model.js';
import { deserializeModelBody } from './model.js';
import { decodeModelImage, encodeModelImage } from './model-image.js';

export interface ModelCache {
  /**
   * Starts reading the cached image in the background (a thread of the pool, not this one), before the
   * active version is known: the read then overlaps opening the store. The cache holds one version, so
   * there is one file to guess; `read` checks the version as always.
   */
  preload(): void;
  /** The version's model, or null when it is not cached (or the file is unreadable). */
  read(version: string): Promise<LinearModel | null>;
  /** Keeps `artefact` (gzip, as stored) for `version`; returns the model it holds. */
  write(version: string, artefact: Buffer): LinearModel;
}

/** The whole file, opened at the call and read on the pool's threads. */
function readOpened(file: string): Promise<Buffer> {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise((resolve, reject) =>
    readFile(fd, (err, data) => {
      close(fd, () => {});
      if (err) reject(err);
      else resolve(data);
    }),
  );
}

/** Versions are `<prefix>-<date>-<hex>`; anything else is not used as a file name. */
const SAFE = /^[A-Za-z0-9._-]{1,128}$/;

export function createModelCache(dataDir: string): ModelCache {
  const dir = path.resolve(dataDir, 'models', 'cache');
  const fileOf = (version: string) => (SAFE.test(version) ? path.join(dir, `${version}.image`) : null);
  const preloaded = new Map<string, Promise<Buffer>>();
  return {
    preload() {
      let names: string[];
      try {
        names = readdirSync(dir).filter((n) => n.endsWith('.image'));
      } catch {
        return; // no cache yet
      }
      for (const name of names) {
        // Opened now, read later: what is read is the file as it is at this call.
        const read = readOpened(path.join(dir, name));
        read.catch(() => {}); // reported (as a miss) by read() if that version is asked for
        preloaded.set(path.join(dir, name), read);
      }
    },
    async read(version) {
      const file = fileOf(version);
      if (!file) return null;
      try {
        const model = decodeModelImage(await (preloaded.get(file) ?? readOpened(file)));
        return model.version === version ? model : null;
      } catch {
        return null;
      } finally {
        preloaded.clear();
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
