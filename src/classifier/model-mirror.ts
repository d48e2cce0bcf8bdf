/**
 * With the embedded database (one process, one instance) the model in force — the active version and the
 * feedback it has learned — is mirrored to a file, so one-shot commands such as `scan` need not start the
 * embedded Postgres (several hundred MB of memory). The running service rewrites it when the version changes,
 * when a command asks through the control socket (so a scan beside the service scores as the service does)
 * and when it stops (so a scan after it does).
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { deserializeModel, type LinearModel } from './model.js';
import { writeAtomically } from './model-source.js';
import type { SpamModel } from './types.js';

export function activeMirrorPath(dataDir: string): string {
  return path.resolve(dataDir, 'models', 'active.model');
}

/** What the mirror holds, beside it: the version and the feedback generation (feedback-ledger.ts). */
function keyPath(dataDir: string): string {
  return `${activeMirrorPath(dataDir)}.key`;
}

export function readActiveMirror(dataDir: string): LinearModel | null {
  const file = activeMirrorPath(dataDir);
  return existsSync(file) ? deserializeModel(readFileSync(file)) : null;
}

/** Writes the mirror from a command that holds the store itself (no service runs). */
export function writeActiveMirror(dataDir: string, model: SpamModel): void {
  // The key no longer describes the file: a service's next refresh must not take it as current.
  rmSync(keyPath(dataDir), { force: true });
  writeAtomically(activeMirrorPath(dataDir), model.serialize());
}

export interface ModelMirror {
  /**
   * Rewrites the mirror unless it already holds this version with the same feedback learned (`generation`,
   * read when the refresh runs): serialising costs an ordering and a gzip of the whole table, which a
   * restart on an unchanged model need not pay. The body is encoded in the turn the generation is read, so
   * the key names exactly those weights; the gzip and the writes are off the event loop. Refreshes run one
   * at a time. True when it wrote.
   */
  refresh(model: SpamModel, generation: () => string): Promise<boolean>;
}

export function createModelMirror(dataDir: string): ModelMirror {
  let queue: Promise<unknown> = Promise.resolve();
  const file = activeMirrorPath(dataDir);
  const keyFile = keyPath(dataDir);
  async function write(model: SpamModel, generation: () => string): Promise<boolean> {
    const key = `${model.version} ${generation()}`;
    if (existsSync(keyFile) && existsSync(file) && readFileSync(keyFile, 'utf8') === key) return false;
    const bytes = model.serializeAsync();
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, await bytes);
    // The key goes first: a mirror without a key is rewritten by the next refresh, never one with a stale key.
    rmSync(keyFile, { force: true });
    await rename(tmp, file);
    await writeFile(`${keyFile}.${process.pid}.tmp`, key);
    await rename(`${keyFile}.${process.pid}.tmp`, keyFile);
    return true;
  }
  return {
    refresh(model, generation) {
      const run = queue.then(() => write(model, generation));
      queue = run.catch(() => undefined);
      return run;
    },
  };
}
