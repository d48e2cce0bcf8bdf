/**
 * `mailsentra_quarantine_messages` is the database's count, read at the scrape: an instance reports messages
 * another instance held, and a release through one instance's API is seen in every instance's figure (a count
 * kept per process went stale in the others, and in a cluster the workers' stale maximum won).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSpamAssassin } from '../../src/classifier/corpus.js';
import { freshDatabaseUrl } from '../helpers/db.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { send } from '../helpers/smtp-client.js';

const ADMIN = 'quarantine-gauge-admin-key-0123456789';
const crlf = (b: Buffer) => Buffer.from(b.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
const SPAM = crlf(loadSpamAssassin('test').find((m) => m.label === 'spam' && m.raw.length < 6000)!.raw);

describe.runIf(process.env.DATABASE_URL)('the quarantine gauge across instances', () => {
  let db: { url: string; drop(): Promise<void> };
  let a: TestService;
  let b: TestService;

  beforeAll(async () => {
    db = await freshDatabaseUrl();
    const config = {
      database: { url: db.url },
      api: { adminApiKey: ADMIN },
      policy: { thresholds: { quarantine: 0.5 } },
    };
    a = await startTestService({ config });
    b = await startTestService({ config });
  }, 120_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  const held = async (svc: TestService) => {
    const text = await (await fetch(`http://127.0.0.1:${svc.apiPort}/metrics`)).text();
    return Number(/^mailsentra_quarantine_messages (\d+)$/m.exec(text)?.[1]);
  };

  it('counts what the other instance held, and what its API released', async () => {
    expect(await held(b)).toBe(0);
    expect((await send(a.smtpPort, { from: 'x@example.com', to: ['p@example.net'] }, SPAM)).code).toBe(250);
    expect(await held(a)).toBe(1);
    expect(await held(b)).toBe(1);
    const list = (await (
      await fetch(`http://127.0.0.1:${b.apiPort}/api/v1/quarantine?state=held`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      })
    ).json()) as { items: { id: string }[] };
    expect(list.items).toHaveLength(1);
    const deleted = await fetch(`http://127.0.0.1:${b.apiPort}/api/v1/quarantine/${list.items[0]!.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(deleted.status).toBeLessThan(300);
    expect(await held(a)).toBe(0);
    expect(await held(b)).toBe(0);
  }, 60_000);
});
