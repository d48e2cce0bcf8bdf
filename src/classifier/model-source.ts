/**
 * Where models come from. The default model is trained from the SpamAssassin corpus (TRAIN split) when the
 * package is installed (`npm ci` → `prepare` → `scripts/train-default-model.mjs`), so a fresh clone scores
 * from its first message; if that file is missing it is trained at first use (about 10 s) and saved.
 *
 * Until the database model registry lands, trained versions live as files under `<dataDir>/models/`, with
 * `ACTIVE` naming the version in force.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSpamAssassin } from './corpus.js';
import { type CountModel, deserializeModel } from './model.js';
import { trainModel } from './train.js';

/** `models/default.model` at the package root (next to dist/ and src/). */
export function defaultModelPath(): string {
  return fileURLToPath(new URL('../../models/default.model', import.meta.url));
}

function writeAtomically(file: string, data: Buffer | string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

export function trainDefaultModel(): CountModel {
  return trainModel(loadSpamAssassin('train'), { versionPrefix: 'sa' });
}

export function loadDefaultModel(file = defaultModelPath()): CountModel {
  if (existsSync(file)) return deserializeModel(readFileSync(file));
  const model = trainDefaultModel();
  writeAtomically(file, model.serialize());
  return model;
}

export interface StoredModel {
  version: string;
  sizeBytes: number;
  createdAt: Date;
  active: boolean;
}

/** A file-backed registry of model versions under `<dataDir>/models`. */
export class ModelDirectory {
  constructor(readonly dir: string) {}

  private file(version: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(version)) throw new Error(`invalid model version '${version}'`);
    return path.join(this.dir, `${version}.model`);
  }

  save(model: CountModel): void {
    writeAtomically(this.file(model.version), model.serialize());
  }

  activeVersion(): string | null {
    const pointer = path.join(this.dir, 'ACTIVE');
    return existsSync(pointer) ? readFileSync(pointer, 'utf8').trim() || null : null;
  }

  activate(version: string): void {
    if (!existsSync(this.file(version))) throw new Error(`model version '${version}' does not exist`);
    writeAtomically(path.join(this.dir, 'ACTIVE'), `${version}\n`);
  }

  load(version: string): CountModel {
    return deserializeModel(readFileSync(this.file(version)));
  }

  list(): StoredModel[] {
    if (!existsSync(this.dir)) return [];
    const active = this.activeVersion();
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.model'))
      .map((f) => {
        const st = statSync(path.join(this.dir, f));
        const version = f.slice(0, -'.model'.length);
        return { version, sizeBytes: st.size, createdAt: st.mtime, active: version === active };
      });
  }

  /** The active version, or the default model when none was trained here. */
  loadActive(): CountModel {
    const version = this.activeVersion();
    return version ? this.load(version) : loadDefaultModel();
  }
}

export function modelDirectory(dataDir: string): ModelDirectory {
  return new ModelDirectory(path.resolve(dataDir, 'models'));
}
