/**
 * Postgres and Redis going away under a running service. Postgres is taken away through a TCP proxy the test
 * cuts or freezes (the machine's server keeps serving every other test); Redis is a private redis-server killed and
 * started again. Postgres is needed for these: .ci/run sets DATABASE_URL and fails on any skip.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSpamAssassin } from '../../src/classifier/corpus.js';
import { freshDatabaseWithClient } from '../helpers/db.js';
import { PrivateRedis } from '../helpers/redis.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { send } from '../helpers/smtp-client.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const crlf = (b: Buffer) => Buffer.from(b.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
const SPAM = crlf(loadSpamAssassin('test').find((m) => m.label === 'spam' && m.raw.length < 6000)!.raw);
const ham = (n: number) =>
  `From: a@example.org\r\nTo: b@example.net\r\nSubject: minutes ${n}\r\n\r\nThe minutes of meeting ${n} are attached.\r\n`;
const env = { from: 'a@example.org', to: ['b@example.net'] };
const value = async (metric: { get(): Promise<{ values: { value: number }[] }> }) =>
  (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);

describe.skipIf(!process.env.DATABASE_URL)('Postgres going away', () => {
  let db: Awaited<ReturnType<typeof freshDatabaseWithClient>>;
  let proxy: TcpProxy;
  let svc: TestService;
  let direct: pg.Client;

  beforeAll(async () => {
    db = await freshDatabaseWithClient();
    direct = db.client;
    const url = new URL(db.url);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.host = `127.0.0.1:${proxy.port}`;
    svc = await startTestService({
      config: {
        database: { url: url.toString(), timeoutMs: 1500 },
        logBuffer: { maxRows: 3, flushIntervalMs: 20 },
      },
    });
  });
  afterAll(async () => {
    await svc?.stop();
    await proxy?.close();
    await db?.drop();
  });

  it('answers 451 to spam it cannot quarantine, and stores nothing half-way', async () => {
    proxy.cut();
    const r = await send(
      svc.smtpPort,
      { from: 'x@example.com', to: ['p@example.net', 'q@example.net'] },
      SPAM,
    );
    proxy.restore();
    expect(r.code).toBe(451);
    expect(r.response).toMatch(/^451 4\.3\.0/);
    const count = async (table: string) =>
      Number((await direct.query(`select count(*) as n from ${table}`)).rows[0].n);
    expect(await count('quarantine_messages')).toBe(0);
    expect(await count('quarantine')).toBe(0);
    expect(svc.sink.messages).toHaveLength(0);
    // The upstream's retry, once Postgres is back, is held: one stored message, one row per recipient.
    const retry = await send(
      svc.smtpPort,
      { from: 'x@example.com', to: ['p@example.net', 'q@example.net'] },
      SPAM,
    );
    expect(retry.code).toBe(250);
    expect(await count('quarantine_messages')).toBe(1);
    expect(await count('quarantine')).toBe(2);
  });

  it('keeps mail flowing while the verdict log cannot be written: buffers, then drops with a counter', async () => {
    await svc.app.storage.messages.flush();
    const droppedBefore = await value(svc.app.metrics.logRowsDropped);
    svc.sink.messages.length = 0;
    proxy.cut();
    for (let n = 0; n < 5; n++) expect((await send(svc.smtpPort, env, ham(n))).code).toBe(250);
    expect(svc.sink.messages).toHaveLength(5);
    // logBuffer.maxRows is 3: three rows wait, two were dropped and counted.
    expect(await value(svc.app.metrics.logBufferRows)).toBe(3);
    expect((await value(svc.app.metrics.logRowsDropped)) - droppedBefore).toBe(2);
    proxy.restore();
    // A batch tried on a pool connection that the cut left half-open fails and waits for the next
    // attempt, so the buffer drains within a few flushes rather than exactly one.
    await expect
      .poll(
        async () => {
          await svc.app.storage.messages.flush();
          return value(svc.app.metrics.logBufferRows);
        },
        { timeout: 10_000, interval: 100 },
      )
      .toBe(0);
    const subjects = (await direct.query(`select subject from messages where subject like 'minutes %'`)).rows;
    expect(subjects.map((r: { subject: string }) => r.subject).sort()).toEqual([
      'minutes 0',
      'minutes 1',
      'minutes 2',
    ]);
  });
});

describe.skipIf(!process.env.DATABASE_URL)('Postgres that stops answering', () => {
  let db: Awaited<ReturnType<typeof freshDatabaseWithClient>>;
  let proxy: TcpProxy;
  let svc: TestService;

  beforeAll(async () => {
    db = await freshDatabaseWithClient();
    const url = new URL(db.url);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.host = `127.0.0.1:${proxy.port}`;
    svc = await startTestService({ config: { database: { url: url.toString(), timeoutMs: 1500 } } });
  });
  afterAll(async () => {
    await svc?.stop();
    await proxy?.close();
    await db?.drop();
  });

  it('answers 451 to spam it cannot quarantine in time, and /ready 503, rather than waiting on it', async () => {
    const api = `http://127.0.0.1:${svc.apiPort}`;
    expect((await fetch(`${api}/ready`)).status).toBe(200);
    proxy.freeze();
    try {
      // Without a bound each of these would wait as long as the database does (this test's timeout).
      expect((await fetch(`${api}/ready`)).status).toBe(503);
      const r = await send(svc.smtpPort, { from: 'x@example.com', to: ['p@example.net'] }, SPAM);
      expect(r.code).toBe(451);
      expect(r.response).toMatch(/^451 4\.3\.0/);
      expect(svc.sink.messages).toHaveLength(0);
    } finally {
      proxy.thaw();
    }
    await expect.poll(async () => (await fetch(`${api}/ready`)).status, { timeout: 20_000 }).toBe(200);
  }, 60_000);
});

describe('Redis going away and coming back', () => {
  let redis: PrivateRedis;
  let svc: TestService;
  beforeAll(async () => {
    redis = await PrivateRedis.start();
    svc = await startTestService({ config: { redis: { url: redis.url } } });
  });
  afterAll(async () => {
    await svc?.stop();
    await redis?.down().catch(() => undefined);
  });

  it('delivers without it, counts the failures, and uses it again when it is back', async () => {
    await redis.down();
    const errorsBefore = await value(svc.app.metrics.cacheErrors);
    expect((await send(svc.smtpPort, env, ham(100))).code).toBe(250);
    expect((await send(svc.smtpPort, env, ham(101))).code).toBe(250);
    expect(await value(svc.app.metrics.cacheErrors)).toBeGreaterThan(errorsBefore);
    await redis.up();
    const redisLookups = async () =>
      (await svc.app.metrics.cacheLookups.get()).values
        .filter((v) => v.labels.tier === 'redis')
        .reduce((sum, v) => sum + v.value, 0);
    const before = await redisLookups();
    // ioredis reconnects on its own; within a few messages lookups reach Redis again.
    const deadline = Date.now() + 10_000;
    let n = 200;
    while ((await redisLookups()) === before && Date.now() < deadline) {
      expect((await send(svc.smtpPort, env, ham(n++))).code).toBe(250);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await redisLookups()).toBeGreaterThan(before);
    expect(svc.sink.messages.length).toBeGreaterThanOrEqual(3);
  });
});
