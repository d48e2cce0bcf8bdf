import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/observability/log.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { type OpenedStorage, openStorage } from '../../src/store/index.js';
import { type ModelSync, startModelSync } from '../../src/store/model-sync.js';
import { freshDatabaseUrl } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';

describe.runIf(process.env.DATABASE_URL && process.env.REDIS_URL)('model activation across instances', () => {
  const channel = `test:model:${randomBytes(4).toString('hex')}`;
  let drop: () => Promise<void>;
  const instances: { storage: OpenedStorage; sync: ModelSync; version: string }[] = [];
  type Instance = (typeof instances)[0];
  /** Stores a version (not yet active) whose artefact names it. */
  const saveVersion = (i: Instance, version: string) =>
    i.storage.models.save({
      version,
      trainingSet: 't',
      evaluation: null,
      artefact: Buffer.from(`artefact of ${version}`),
    });

  beforeAll(async () => {
    const fresh = await freshDatabaseUrl();
    drop = fresh.drop;
    const config = loadConfig({ file: null, env: {}, overrides: { database: { url: fresh.url } } });
    for (let i = 0; i < 2; i++) {
      const storage = await openStorage(config, {
        logger: silentLogger(),
        metrics: createMetrics({ defaultMetrics: false }),
      });
      const instance = { storage, version: 'none', sync: null as unknown as ModelSync };
      instance.sync = startModelSync({
        models: storage.models,
        redisUrl: process.env.REDIS_URL as string,
        // Long fallback interval: the test proves the Redis announcement, not the periodic check.
        intervalMs: 60_000,
        logger: silentLogger(),
        channel,
        currentVersion: () => instance.version,
        onActivate: (version, artefact) => {
          expect(artefact.toString()).toBe(`artefact of ${version}`);
          instance.version = version;
        },
      });
      instances.push(instance);
    }
    await Promise.all(instances.map((i) => i.sync.ready));
  });

  afterAll(async () => {
    for (const i of instances) {
      await i.sync.stop();
      await i.storage.close();
    }
    await drop?.();
  });

  it('one instance activates, the other loads that version through the Redis announcement', async () => {
    const [a, b] = instances as [Instance, Instance];
    await saveVersion(a, 'v-new');
    await a.storage.models.activate('v-new');
    await a.sync.announce('v-new');
    await waitFor('the announced version loaded', () => b.version === 'v-new', { timeoutMs: 3000 });
  });

  it('an instance that missed the announcement catches up at its periodic check', async () => {
    const [a, b] = instances as [Instance, Instance];
    await saveVersion(a, 'v-quiet');
    await a.storage.models.activate('v-quiet'); // not announced
    await b.sync.check();
    expect(b.version).toBe('v-quiet');
  });

  it('only one of two concurrent trainings on two instances runs', async () => {
    const [a, b] = instances as [Instance, Instance];
    let release: () => void = () => {};
    let acquired: () => void = () => {};
    const locked = new Promise<void>((r) => {
      acquired = r;
    });
    const first = a.storage.models.withTrainingLock(
      () =>
        new Promise<string>((r) => {
          release = () => r('a trained');
          acquired();
        }),
    );
    // The callback runs once a holds the lock: b tries only then.
    await locked;
    expect(await b.storage.models.withTrainingLock(async () => 'b trained')).toBeNull();
    release();
    expect(await first).toBe('a trained');
  });
});
