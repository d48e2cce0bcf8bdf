/**
 * Feedback outlives the process: "I reported this as spam; after a restart or a retrain it is still scored as
 * spam". Whole services (startTestService) on one database that outlives them, on the embedded PGlite (a
 * directory) and on the real Postgres when DATABASE_URL is set.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeepPartial } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { callApi } from '../helpers/api-client.js';
import { type Backend, backends, freshDatabaseUrl } from '../helpers/db.js';
import { ordinaryMail } from '../helpers/mail.js';
import { startTestService, type TestService } from '../helpers/service.js';

const ADMIN = 'feedback-persistence-admin-key-0123456789';
/** A test that restarts the service several times: each embedded restart starts PGlite again, which takes
 * seconds on a loaded two-core machine. A test cut off mid-restart would leave a service holding the data
 * directory, and the next test would fail on its lock instead of on what it checks. */
const RESTARTS_MS = 120_000;

const api = <T>(service: TestService, method: string, url: string, body?: unknown) =>
  callApi<T>(service, ADMIN, method, url, body);

const scoreOf = async (service: TestService, mail: Buffer) =>
  (await api<{ score: number }>(service, 'POST', '/api/v1/scan', mail)).score;

const feedback = (service: TestService, mail: Buffer, label: 'spam' | 'ham') =>
  api<{ previous: string | null }>(service, 'POST', '/api/v1/feedback', { raw: mail.toString(), label });

describe.each(backends)('feedback survives a restart (%s)', (backend: Backend) => {
  let db: { url: string; drop(): Promise<void> } | null = null;
  let dir: string;
  let service: TestService | null = null;

  /** A service on this suite's database. The verdict cache is off: a shared Redis would carry a verdict
   * across the restart by itself, and these tests are about the model. */
  async function restart(): Promise<TestService> {
    await service?.stop();
    const config: DeepPartial<Config> = {
      dataDir: dir,
      database: { url: db?.url ?? null },
      api: { adminApiKey: ADMIN },
      cache: { enabled: false },
    };
    service = await startTestService({ config, pglite: path.join(dir, 'pglite') });
    return service;
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mailsentra-feedback-'));
    if (backend === 'postgres') db = await freshDatabaseUrl();
  });

  afterAll(async () => {
    await service?.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'a message reported as spam still scores as after the report once restarted, and so does a relabel to ham',
    async () => {
      const mail = ordinaryMail();
      const a = await restart();
      const fresh = await scoreOf(a, mail);
      expect((await feedback(a, mail, 'spam')).previous).toBeNull();
      const reported = await scoreOf(a, mail);
      expect(reported).toBeGreaterThan(fresh);

      const b = await restart();
      expect(await scoreOf(b, mail)).toBeCloseTo(reported, 9);

      // Relabel: un-learn spam, learn ham, as live feedback does; the replay must do the same.
      expect((await feedback(b, mail, 'ham')).previous).toBe('spam');
      const relabelled = await scoreOf(b, mail);
      expect(relabelled).toBeLessThan(reported);

      const c = await restart();
      expect(await scoreOf(c, mail)).toBeCloseTo(relabelled, 9);
    },
    RESTARTS_MS,
  );

  it(
    'a release with learnAsHam is feedback too: recorded with its bytes, counted, and kept across a restart',
    async () => {
      const mail = ordinaryMail();
      const a = await restart();
      const [held] = await a.app.storage.quarantine.hold({
        messageId: randomUUID(),
        mailFrom: 'dana@example.com',
        recipients: ['team@example.net'],
        subject: 'Lunch',
        headerFrom: 'dana@example.com',
        score: 0.97,
        reason: 'score 0.970 >= quarantine 0.950',
        raw: mail,
        expiresAt: new Date(Date.now() + 86_400_000),
      });
      const before = await scoreOf(a, mail);
      await api(a, 'POST', `/api/v1/quarantine/${held?.id}/release`, { learnAsHam: true });
      const released = await scoreOf(a, mail);
      expect(released).toBeLessThan(before);

      const row = await a.app.storage.db
        .selectFrom('feedback')
        .select(['label', 'actor', 'raw'])
        .where('content_hash', '=', a.app.scanner.contentHash(mail))
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({ label: 'ham', actor: expect.stringMatching(/^key:/) });
      expect(Buffer.from(row.raw as Uint8Array).equals(mail)).toBe(true);
      const metrics = await (await fetch(`http://127.0.0.1:${a.apiPort}/metrics`)).text();
      expect(metrics).toMatch(/mailsentra_feedback_total\{label="ham"\} 1/);

      const b = await restart();
      expect(await scoreOf(b, mail)).toBeCloseTo(released, 9);
    },
    RESTARTS_MS,
  );
});

describe('feedback is included in training', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService({ config: { api: { adminApiKey: ADMIN }, cache: { enabled: false } } });
  });
  afterAll(async () => {
    await service?.stop();
  });

  it('a trained version names its feedback examples and scores a reported message on the spam side', async () => {
    // Ordinary mail the corpus never saw: its own words (the tag) carry the lesson, which a full retraining
    // on ~4 500 corpus messages keeps because nothing else speaks for or against those words.
    const mail = ordinaryMail();
    expect(await scoreOf(service, mail)).toBeLessThan(0.5);
    await feedback(service, mail, 'spam');
    await feedback(service, ordinaryMail(), 'ham');
    const taught = await scoreOf(service, mail); // the default version, taught both lessons live
    const defaultVersion = service.app.activeModel.current().version;

    const { jobId } = await api<{ jobId: string }>(service, 'POST', '/api/v1/models/train');
    let job = { state: 'running', version: null as string | null };
    for (let i = 0; i < 600 && job.state === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      job = await api(service, 'GET', `/api/v1/models/jobs/${jobId}`);
    }
    expect(job.state).toBe('done');
    const trained = job.version as string;
    const models = await api<{ version: string; trainingSet: string }[]>(service, 'GET', '/api/v1/models');
    expect(models.find((m) => m.version === trained)?.trainingSet).toBe('spamassassin-train+feedback:2');

    await api(service, 'POST', `/api/v1/models/${trained}/activate`);
    const retrained = await scoreOf(service, mail);
    expect(retrained).toBeGreaterThanOrEqual(0.5);

    // Rollback through the API: the default version predates the feedback, so it is replayed onto it.
    await api(service, 'POST', `/api/v1/models/${defaultVersion}/activate`);
    expect(await scoreOf(service, mail)).toBeCloseTo(taught, 9);

    // The same through model sync (another instance's activation, seen in the database): the trained version
    // already holds the feedback (it is dated when the feedback was read), so nothing is learned twice.
    await service.app.storage.models.activate(trained);
    await service.app.modelSync.check();
    expect(service.app.activeModel.current().version).toBe(trained);
    expect(await scoreOf(service, mail)).toBeCloseTo(retrained, 9);
    await service.app.storage.models.activate(defaultVersion);
    await service.app.modelSync.check();
    expect(await scoreOf(service, mail)).toBeCloseTo(taught, 9);
  }, 240_000);
});
