/**
 * Feedback given to one instance reaches every instance sharing its database: through the Redis
 * announcement, or the periodic check without it; each row is applied exactly once per process; and the
 * shared verdict cache never serves a verdict of a model that had not learned what the reader learned.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ActiveModel, SpamModel } from '../../src/classifier/types.js';
import type { DeepPartial } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { silentLogger } from '../../src/observability/log.js';
import { createFeedbackLedger, MAX_UUID } from '../../src/pipeline/feedback-ledger.js';
import { startFeedbackSync } from '../../src/pipeline/feedback-sync.js';
import type { ReplayableFeedback } from '../../src/store/types.js';
import { freshDatabaseUrl } from '../helpers/db.js';
import { ordinaryMail } from '../helpers/mail.js';
import { startTestService, type TestService } from '../helpers/service.js';

const ADMIN = 'feedback-sync-admin-key-0123456789';

describe('feedback sync runs', () => {
  const model = { version: 'v1' } as SpamModel;
  const activeModel: ActiveModel = { current: () => model, set() {}, onChange: () => () => {} };
  const lesson = (): ReplayableFeedback => ({
    id: randomUUID(),
    createdAt: new Date(),
    contentHash: 'h',
    label: 'spam',
    previous: null,
    raw: Buffer.from('x'),
    authSignals: [],
    previousAuthSignals: [],
  });

  it('one at a time: triggers during a run make one more run, not one each', async () => {
    let reads = 0;
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const ledger = createFeedbackLedger({ createdAt: new Date(0), id: MAX_UUID });
    const sync = startFeedbackSync({
      feedback: {
        async *replayableAfter() {
          reads++;
          await gate;
          yield* []; // nothing new
        },
      },
      scanner: { ledger: () => ledger, learnInto: async () => {} },
      activeModel,
      logger: silentLogger(),
      redisUrl: null,
      intervalMs: 60_000,
    });
    // The run at start is reading; three triggers arrive meanwhile.
    const waits = [sync.sync(), sync.sync(), sync.sync()];
    expect(reads).toBe(1);
    open();
    await Promise.all(waits);
    expect(reads).toBe(2);
    await sync.sync();
    expect(reads).toBe(3);
    await sync.stop();
  });

  it('skips a row the process applied live while the sync was reading', async () => {
    const ledger = createFeedbackLedger({ createdAt: new Date(0), id: MAX_UUID });
    const [live, other] = [lesson(), lesson()];
    const applied: string[] = [];
    const sync = startFeedbackSync({
      feedback: {
        async *replayableAfter() {
          ledger.add(live); // recorded and applied here after this read was sent
          yield live;
          yield other;
        },
      },
      scanner: {
        ledger: () => ledger,
        learnInto: async (_model, row) => {
          applied.push(row.id);
          ledger.add(row);
        },
      },
      activeModel,
      logger: silentLogger(),
      redisUrl: null,
      intervalMs: 60_000,
    });
    await sync.sync();
    expect(applied).toEqual([other.id]);
    await sync.stop();
  });
});

async function feedback(service: TestService, mail: Buffer, label: 'spam' | 'ham') {
  const res = await fetch(`http://127.0.0.1:${service.apiPort}/api/v1/feedback`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ raw: mail.toString(), label }),
  });
  const body = (await res.json()) as { previous: string | null };
  if (!res.ok) throw new Error(`feedback: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

const scoreOf = async (service: TestService, mail: Buffer) => (await service.app.scanner.scan(mail)).score;

/** Polls until `service` scores `mail` as `expected` (to 1e-9), or `ms` pass; returns the last score. */
async function converges(service: TestService, mail: Buffer, expected: number, ms: number) {
  const deadline = Date.now() + ms;
  let score = await scoreOf(service, mail);
  while (Math.abs(score - expected) > 1e-9 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    score = await scoreOf(service, mail);
  }
  return score;
}

describe.runIf(process.env.DATABASE_URL && process.env.REDIS_URL)('feedback across instances', () => {
  let db: { url: string; drop(): Promise<void> };
  let services: TestService[] = [];
  const tag = randomBytes(4).toString('hex');
  const channels = { model: `test:model:${tag}`, feedback: `test:feedback:${tag}` };

  /** An instance on this test's database and the shared Redis (verdict cache on). */
  async function instance(
    app: { modelCheckIntervalMs?: number; syncChannels: typeof channels | null },
    syncIntervalSeconds = 30,
  ) {
    const config: DeepPartial<Config> = {
      database: { url: db.url, syncIntervalSeconds },
      api: { adminApiKey: ADMIN },
    };
    // One after the other: each migrates and registers the default model on the shared database.
    const service = await startTestService({ config, app });
    services.push(service);
    return service;
  }

  /** Two instances started alike, and an ordinary mail with its score before any feedback (read on `a`). */
  async function twoInstances(...options: Parameters<typeof instance>) {
    const a = await instance(...options);
    const b = await instance(...options);
    const mail = ordinaryMail();
    return { a, b, mail, fresh: await scoreOf(a, mail) };
  }

  beforeEach(async () => {
    db = await freshDatabaseUrl();
  });
  afterEach(async () => {
    for (const s of services) await s.stop();
    services = [];
    await db.drop();
  });

  it('reaches the other instance through the Redis announcement, without a restart, both ways', async () => {
    // Periodic check far off: only the announcement can carry the lesson within the bound.
    const { a, b, mail, fresh } = await twoInstances({
      modelCheckIntervalMs: 60_000,
      syncChannels: channels,
    });
    expect(await scoreOf(b, mail)).toBeCloseTo(fresh, 9);

    await feedback(a, mail, 'spam');
    const reported = await scoreOf(a, mail);
    expect(reported).toBeGreaterThan(fresh);
    expect(await converges(b, mail, reported, 3000)).toBeCloseTo(reported, 9);

    expect((await feedback(b, mail, 'ham')).previous).toBe('spam');
    const relabelled = await scoreOf(b, mail);
    expect(relabelled).toBeLessThan(reported);
    expect(await converges(a, mail, relabelled, 3000)).toBeCloseTo(relabelled, 9);
  });

  it('reaches the other instance through the periodic check when there are no announcements', async () => {
    // The check as an operator sets it (database.syncIntervalSeconds).
    const a = await instance({ syncChannels: null }, 1);
    const b = await instance({ syncChannels: null }, 1);
    const mail = ordinaryMail();
    const fresh = await scoreOf(b, mail);

    await feedback(a, mail, 'spam');
    const reported = await scoreOf(a, mail);
    expect(reported).toBeGreaterThan(fresh);
    expect(await converges(b, mail, reported, 5000)).toBeCloseTo(reported, 9);

    await feedback(b, mail, 'ham');
    const relabelled = await scoreOf(b, mail);
    expect(await converges(a, mail, relabelled, 5000)).toBeCloseTo(relabelled, 9);
  });

  it('an instance that has not learned the feedback yet cannot hand its verdict to one that has', async () => {
    // No announcements, no check within the test: B stays behind A until told to sync.
    const { a, b, mail, fresh } = await twoInstances({ modelCheckIntervalMs: 60_000, syncChannels: null });

    await feedback(a, mail, 'spam');
    // B scores the content with its unlearned model: that verdict is in the shared Redis tier.
    const behind = await b.app.scanner.scan(mail);
    expect(behind.score).toBeCloseTo(fresh, 9);
    // A learned since: it must not be served B's verdict (nor its own from before the lesson).
    const reported = await a.app.scanner.scan(mail);
    expect(reported.cached).toBe(false);
    expect(reported.score).toBeGreaterThan(fresh);

    // Once B has learned the same row, the two agree and share entries again.
    await b.app.feedbackSync.sync();
    const caughtUp = await b.app.scanner.scan(mail);
    expect(caughtUp.score).toBeCloseTo(reported.score, 9);
    expect(caughtUp.cached).toBe(true);
  });

  it('applies each row once per process: the instance that recorded it matches a fresh replay', async () => {
    // Announcements and a frequent check: A hears of its own rows both ways and must not learn them again.
    const { a, b, mail, fresh } = await twoInstances({ modelCheckIntervalMs: 100, syncChannels: channels });
    await feedback(a, mail, 'spam');
    await feedback(b, mail, 'ham');
    await feedback(a, mail, 'spam');
    const replayed = await instance({ modelCheckIntervalMs: 60_000, syncChannels: null });
    const expected = await scoreOf(replayed, mail);
    // Both come to the replay's score through announcements and checks; then more runs of every trigger
    // must leave it there (a row applied twice would move it).
    expect(await converges(a, mail, expected, 5000)).toBeCloseTo(expected, 9);
    expect(await converges(b, mail, expected, 5000)).toBeCloseTo(expected, 9);
    for (let i = 0; i < 3; i++) await Promise.all([a.app.feedbackSync.sync(), b.app.feedbackSync.sync()]);
    expect(await scoreOf(a, mail)).toBeCloseTo(expected, 9);
    expect(await scoreOf(b, mail)).toBeCloseTo(expected, 9);
    // Spam, relabelled ham, relabelled spam again: the model ends having learned spam once.
    expect(expected).toBeGreaterThan(fresh);
  });
});
