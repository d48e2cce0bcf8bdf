import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinearModel } from '../../src/classifier/model.js';
import { createModelCache } from '../../src/classifier/model-cache.js';
import { createModelMirror, readActiveMirror } from '../../src/classifier/model-mirror.js';
import { defaultModelPath, ensureActiveModel } from '../../src/classifier/model-source.js';
import type { OpenedStorage } from '../../src/store/index.js';
import type { ModelStore } from '../../src/store/types.js';
import { openTestStorage } from '../helpers/db.js';

// Start-up reads the active model from the data directory's cache rather than the database's artefact.
describe('model start-up cache', () => {
  let storage: OpenedStorage;
  let dataDir: string;
  let artefactReads = 0;
  let models: ModelStore;

  beforeAll(async () => {
    storage = await openTestStorage(null);
    dataDir = mkdtempSync(path.join(tmpdir(), 'mailsentra-cache-'));
    // The real store, counting the artefact fetches the cache is there to avoid.
    models = {
      ...storage.models,
      getArtefact: (version) => {
        artefactReads++;
        return storage.models.getArtefact(version);
      },
    };
  });
  afterAll(async () => {
    await storage.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('first start stores the shipped artefact byte for byte and caches its image', async () => {
    const model = await ensureActiveModel(models, createModelCache(dataDir));
    expect(model).toBeInstanceOf(LinearModel);
    const active = await storage.models.getActive();
    expect(active?.version).toBe(model.version);
    const stored = await storage.models.getArtefact(model.version);
    expect(stored?.equals(readFileSync(defaultModelPath()))).toBe(true);
    expect(readdirSync(path.join(dataDir, 'models', 'cache'))).toEqual([`${model.version}.image`]);
  });

  it('a restart loads the cached image without fetching the artefact, scoring and learning identically', async () => {
    artefactReads = 0;
    const fromDb = await ensureActiveModel(storage.models);
    const cached = await ensureActiveModel(models, createModelCache(dataDir));
    expect(artefactReads).toBe(0);
    const tokens = ['free', 'money', 'click', 'meeting', 'agenda', 'viagra'];
    expect(cached.score(tokens)).toEqual(fromDb.score(tokens));
    expect(cached.digest()).toBe(fromDb.digest());
    // The restored table takes new features and feedback as the decoded one does.
    for (const m of [cached, fromDb]) m.learn([...tokens, 'a-feature-neither-knew'], 'ham');
    expect(cached.score([...tokens, 'a-feature-neither-knew'])).toEqual(
      fromDb.score([...tokens, 'a-feature-neither-knew']),
    );
    expect(cached.digest()).toBe(fromDb.digest());
  });

  it('a damaged cache file is ignored and rewritten from the database', async () => {
    const version = (await storage.models.getActive())?.version as string;
    const file = path.join(dataDir, 'models', 'cache', `${version}.image`);
    writeFileSync(file, readFileSync(file).subarray(0, 1000));
    artefactReads = 0;
    const model = await ensureActiveModel(models, createModelCache(dataDir));
    expect(artefactReads).toBe(1);
    expect(model.version).toBe(version);
    expect((await createModelCache(dataDir).read(version))?.version).toBe(version);
  });

  it('a preloaded image is the one read for its version, and never stands in for another version', async () => {
    const version = (await storage.models.getActive())?.version as string;
    const file = path.join(dataDir, 'models', 'cache', `${version}.image`);
    const bytes = readFileSync(file);
    const cache = createModelCache(dataDir);
    cache.preload();
    // Gone from disk after the preload started: only the preloaded bytes can answer.
    rmSync(file);
    try {
      expect((await cache.read(version))?.version).toBe(version);
      // Preloaded bytes are used once; another version is looked up as its own file (absent here).
      const again = createModelCache(dataDir);
      writeFileSync(file, bytes);
      again.preload();
      expect(await again.read(`${version}-other`)).toBeNull();
    } finally {
      writeFileSync(file, bytes);
    }
    // No cache directory: preload does nothing and read is a miss.
    const empty = createModelCache(path.join(dataDir, 'absent'));
    empty.preload();
    expect(await empty.read(version)).toBeNull();
  });

  it('the file mirror is rewritten only when the version or the learned feedback changed', async () => {
    const model = await ensureActiveModel(storage.models);
    const mirror = path.join(dataDir, 'models', 'active.model');
    const files = createModelMirror(dataDir);
    let generation = '';
    expect(await files.refresh(model, () => generation)).toBe(true);
    // A marker in place of the mirror shows whether the next refresh wrote it.
    writeFileSync(mirror, 'marker');
    expect(await files.refresh(model, () => generation)).toBe(false);
    expect(readFileSync(mirror, 'utf8')).toBe('marker');
    // Feedback that leaves the example counts as they were (a relabel) still changes the generation.
    model.learn(['a-token-only-this-test-uses'], 'spam');
    generation = '1:ab';
    expect(await files.refresh(model, () => generation)).toBe(true);
    expect(readActiveMirror(dataDir)?.score(['a-token-only-this-test-uses']).score).toBe(
      model.score(['a-token-only-this-test-uses']).score,
    );
  });

  it('refreshes run one at a time, each writing the weights of the turn it read the generation in', async () => {
    const model = await ensureActiveModel(storage.models);
    const files = createModelMirror(dataDir);
    let generation = 'g0';
    const first = files.refresh(model, () => generation);
    const second = files.refresh(model, () => generation);
    // Taught after both were asked for, before either ran: the second must write what the first did not.
    model.learn(['a-second-token-only-this-test-uses'], 'spam');
    generation = 'g1';
    expect(await Promise.all([first, second])).toEqual([true, false]);
    expect(readActiveMirror(dataDir)?.score(['a-second-token-only-this-test-uses']).score).toBe(
      model.score(['a-second-token-only-this-test-uses']).score,
    );
  });
});
