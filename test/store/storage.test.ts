import { randomUUID } from 'node:crypto';
import { type KyselyPlugin, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { silentLogger } from '../../src/observability/log.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { type OpenedStorage, openStorage } from '../../src/store/index.js';
import { MAX_BATCH_RAW_BYTES, nextBatch } from '../../src/store/message-insert.js';
import { createMessageLog } from '../../src/store/messages.js';
import { purgeOnce } from '../../src/store/retention.js';
import type { MessageLogEntry } from '../../src/store/types.js';
import { type Backend, backends, freshDatabaseUrl } from '../helpers/db.js';

function entry(overrides: Partial<MessageLogEntry> = {}): MessageLogEntry {
  return {
    id: randomUUID(),
    receivedAt: new Date(),
    sessionId: 's1',
    clientIp: '192.0.2.1',
    clientHelo: 'mx.example',
    mailFrom: 'alice@example.org',
    rcptTo: ['bob@example.net'],
    messageIdHeader: '<1@example.org>',
    headerFrom: 'Alice <alice@example.org>',
    subject: 'Quarterly report',
    size: 1234,
    contentHash: 'h1',
    score: 0.1,
    action: 'pass',
    reason: 'score 0.100 < tag 0.500',
    modelVersion: 'v1',
    topFeatures: [{ feature: 'w:report', weight: -0.5 }],
    scanMs: 0.4,
    totalMs: 3,
    status: 'delivered',
    response: '250 2.0.0 queued',
    raw: Buffer.from('Subject: Quarterly report\r\n\r\nhello'),
    ...overrides,
  };
}

describe('verdict-log batches', () => {
  it('stop at flushRows rows or MAX_BATCH_RAW_BYTES of raw bytes, always taking at least one row', () => {
    const small = Array.from({ length: 5 }, () => entry());
    expect(nextBatch(small, 3)).toEqual(small.slice(0, 3));
    const big = (n: number) => entry({ raw: Buffer.alloc(n) });
    const half = MAX_BATCH_RAW_BYTES / 2;
    const rows = [big(half), big(half), big(1), big(MAX_BATCH_RAW_BYTES * 2)];
    expect(nextBatch(rows, 500)).toHaveLength(2);
    expect(nextBatch(rows.slice(2), 500)).toHaveLength(1);
    expect(nextBatch(rows.slice(3), 500)).toHaveLength(1);
    expect(nextBatch([], 500)).toEqual([]);
  });
});

describe.each(backends)('storage on %s', (backend: Backend) => {
  let storage: OpenedStorage;
  let config: Config;
  let metrics: Metrics;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    let url: string | undefined;
    if (backend === 'postgres') ({ url, drop } = await freshDatabaseUrl());
    config = loadConfig({
      file: null,
      env: {},
      overrides: {
        database: { url: url ?? null },
        logBuffer: { flushRows: 3, flushIntervalMs: 50, maxRows: 10 },
      },
    });
    metrics = createMetrics({ defaultMetrics: false });
    storage = await openStorage(config, { logger: silentLogger(), metrics }, { pglite: 'memory://' });
    expect(storage.kind).toBe(backend);
  });

  afterAll(async () => {
    await storage?.close();
    await drop?.();
  });

  it('writes the verdict log in batches and finds messages by every filter', async () => {
    const spam = entry({
      action: 'quarantine',
      status: 'quarantined',
      score: 0.99,
      subject: 'WIN 100% money',
      mailFrom: 'Spammer@bad.example',
      rcptTo: ['Carol@Example.net', 'dave@example.net'],
      contentHash: 'c'.repeat(64),
    });
    const ham = entry();
    storage.messages.record(spam);
    storage.messages.record(ham);
    await storage.messages.flush();
    expect(await storage.ping()).toBe(true);

    const one = await storage.messages.get(spam.id);
    expect(one).toMatchObject({
      action: 'quarantine',
      rcptTo: ['Carol@Example.net', 'dave@example.net'],
      hasRaw: true,
    });
    expect(one?.topFeatures).toEqual(spam.topFeatures);
    expect((await storage.messages.getRaw(spam.id))?.toString()).toBe(spam.raw?.toString());

    const ids = async (filter: Parameters<typeof storage.messages.list>[0]) =>
      (await storage.messages.list(filter)).items.map((m) => m.id);
    expect(await ids({ action: 'quarantine' })).toEqual([spam.id]);
    expect(await ids({ status: 'delivered' })).toContain(ham.id);
    expect(await ids({ sender: 'spammer@bad.example' })).toEqual([spam.id]);
    expect(await ids({ recipient: 'dave@example.net' })).toEqual([spam.id]);
    // As the quarantine: an address is found whatever the case it was sent or searched with.
    expect(await ids({ recipient: 'Dave@EXAMPLE.net' })).toEqual([spam.id]);
    expect(await ids({ recipient: 'carol@example.net' })).toEqual([spam.id]);
    expect(await ids({ subject: '100%' })).toEqual([spam.id]);
    expect(await ids({ contentHash: spam.contentHash })).toEqual([spam.id]);
    expect(await ids({ minScore: 0.5 })).toEqual([spam.id]);
    expect(await ids({ until: new Date(Date.now() - 60_000) })).toEqual([]);
  });

  it('keeps every raw byte of a batch exactly: binary, empty and absent raw side by side, retry-safe', async () => {
    // flushRows is 3 here: one batch of three with raw bytes at different offsets of one parameter.
    const binary = entry({ raw: Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 256)) });
    const empty = entry({ raw: Buffer.alloc(0) });
    const none = entry({ raw: null });
    const quoted = entry({ raw: Buffer.from('\\x41 "{,}" \0 NULL\r\n\u00e9') });
    for (const e of [binary, none, empty, quoted]) storage.messages.record(e);
    await storage.messages.flush();
    expect((await storage.messages.getRaw(binary.id))?.equals(binary.raw as Buffer)).toBe(true);
    expect((await storage.messages.getRaw(quoted.id))?.equals(quoted.raw as Buffer)).toBe(true);
    expect(await storage.messages.getRaw(none.id)).toBeNull();
    expect((await storage.messages.get(none.id))?.hasRaw).toBe(false);
    expect((await storage.messages.get(empty.id))?.hasRaw).toBe(true);
    // A batch written again (a retry after an ambiguous failure) changes nothing and does not fail.
    storage.messages.record(binary);
    storage.messages.record(entry({ raw: Buffer.from('after retry') }));
    await storage.messages.flush();
    expect((storage.messages as typeof storage.messages & { pending: number }).pending).toBe(0);
    expect((await storage.messages.getRaw(binary.id))?.equals(binary.raw as Buffer)).toBe(true);
  });

  it('loses no row and writes none twice when batches written side by side fail', async () => {
    // Every other insert fails: half of them before reaching the database, half after Postgres committed
    // (the connection "dropped" on the way back, so the retry meets rows already there).
    let inserts = 0;
    const flaky: KyselyPlugin = {
      transformQuery: (args) => {
        if (args.node.kind === 'InsertQueryNode' || args.node.kind === 'RawNode') {
          inserts++;
          if (inserts % 4 === 1) throw new Error('connection lost before the insert');
        }
        return args.node;
      },
      transformResult: async (args) => {
        if (inserts % 4 === 3) throw new Error('connection lost after the commit');
        return args.result;
      },
    };
    const errorCount = async () => (await metrics.logFlushErrors.get()).values[0]?.value ?? 0;
    const errorsBefore = await errorCount();
    const log = createMessageLog(
      storage.db.withPlugin(flaky),
      { ...config, logBuffer: { ...config.logBuffer, flushRows: 4, flushIntervalMs: 60_000, maxRows: 1000 } },
      { logger: silentLogger(), metrics },
    );
    const tag = `flaky-${randomUUID()}`;
    const rows = Array.from({ length: 40 }, () => entry({ contentHash: tag }));
    for (const e of rows) log.record(e);
    // A failed batch halts this flush; what is left waits for the next one (the timer's, in the service).
    for (let i = 0; i < 40 && log.pending > 0; i++) await log.flush();
    expect(log.pending).toBe(0);
    const stored = await storage.db
      .selectFrom('messages')
      .select('id')
      .where('content_hash', '=', tag)
      .execute();
    expect(stored.map((r) => r.id).sort()).toEqual(rows.map((e) => e.id).sort());
    expect(await errorCount()).toBeGreaterThanOrEqual(errorsBefore + 5);
    await log.close();
  });

  it('writes full batches under steady load, leaving the rows of a partial one to the timer or a flush', async () => {
    const log = createMessageLog(
      storage.db,
      {
        ...config,
        logBuffer: { ...config.logBuffer, flushRows: 10, flushIntervalMs: 60_000, maxRows: 1000 },
      },
      { logger: silentLogger(), metrics },
    );
    const tag = `steady-${randomUUID()}`;
    const stored = async () =>
      (await storage.db.selectFrom('messages').select('id').where('content_hash', '=', tag).execute()).length;
    // A full batch starts a write; four more rows arrive while it is written.
    for (let i = 0; i < 14; i++) log.record(entry({ contentHash: tag }));
    for (let i = 0; i < 500 && log.pending > 4; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 200));
    expect(log.pending).toBe(4);
    expect(await stored()).toBe(10);
    await log.flush();
    expect(log.pending).toBe(0);
    expect(await stored()).toBe(14);
    await log.close();
  });

  it('stores what mail carries that Postgres text cannot, and drops only a row Postgres refuses', async () => {
    const refused = async () =>
      (await metrics.logRowsDropped.get()).values.find((v) => v.labels.reason === 'refused')?.value ?? 0;
    const refusedBefore = await refused();
    const longSubject = Array.from({ length: 998 }, (_, i) =>
      String.fromCodePoint(0x4e00 + ((i * 7919) % 20000)),
    );
    const nul = entry({
      subject: 'a\u0000b',
      clientHelo: 'helo\u0000',
      mailFrom: 'nul\u0000@example.org',
      rcptTo: ['rcpt\u0000@example.net'],
      topFeatures: [{ feature: 'w:\u0000', weight: 1 }],
    });
    const long = entry({ subject: longSubject.join('') });
    // Out of range for its integer column: refused for its content, whatever the retry.
    const bad = entry({ size: 2 ** 31 });
    const ok = [entry(), entry(), entry(), entry()];
    for (const e of [ok[0], nul, bad, ok[1], long, ok[2], ok[3]])
      storage.messages.record(e as MessageLogEntry);
    await storage.messages.flush();
    expect((storage.messages as typeof storage.messages & { pending: number }).pending).toBe(0);
    for (const e of [...ok, nul, long]) expect(await storage.messages.get(e.id), e.id).not.toBeNull();
    expect(await storage.messages.get(bad.id)).toBeNull();
    expect(await refused()).toBe(refusedBefore + 1);
    const stored = await storage.messages.get(nul.id);
    expect(stored).toMatchObject({ subject: 'a\uFFFDb', clientHelo: 'helo\uFFFD' });
    expect(stored?.topFeatures).toEqual([{ feature: 'w:\uFFFD', weight: 1 }]);
    // A search with the same text finds it, where Postgres refused the parameter (a 500 from the API).
    for (const filter of [
      { subject: 'a\u0000b' },
      { sender: 'NUL\u0000@example.org' },
      { recipient: 'rcpt\u0000@example.net' },
    ]) {
      const page = await storage.messages.list(filter);
      expect(
        page.items.map((m) => m.id),
        JSON.stringify(filter),
      ).toEqual([nul.id]);
    }
    expect((await storage.messages.get(long.id))?.subject).toBe(long.subject);

    // A quarantine write with such text gates a 250: it must succeed, not fail at every retry.
    const held = await storage.quarantine.hold({
      messageId: randomUUID(),
      mailFrom: 'x@bad.example',
      recipients: ['a@example.net'],
      subject: `spam\u0000${longSubject.join('')}`,
      headerFrom: 'X \u0000<x@bad.example>',
      score: 0.99,
      reason: 'score',
      raw: Buffer.from('Subject: spam\0\r\n\r\nbody'),
      expiresAt: new Date(Date.now() + 86_400_000),
    });
    expect(held[0]?.subject?.startsWith('spam\uFFFD')).toBe(true);
    for (const filter of [
      { subject: 'spam\u0000' },
      { sender: 'x@bad.example' },
      { recipient: 'A@example.net\u0000' },
    ])
      expect((await storage.quarantine.list(filter)).items.length, JSON.stringify(filter)).toBe(
        filter.recipient ? 0 : 1,
      );
    await storage.quarantine.remove(
      held.map((h) => h.id),
      'test',
    );
    await storage.audit.write({
      actor: 'admin\u0000',
      action: 'test',
      target: null,
      details: { 'k\u0000': 'v\u0000' },
    });
    const [audit] = await storage.audit.list(1);
    expect(audit).toMatchObject({ actor: 'admin\uFFFD', details: { 'k\uFFFD': 'v\uFFFD' } });
  });

  it('pages with an opaque cursor, newest first, without gaps or repeats', async () => {
    const base = Date.now() - 3_600_000;
    const batch = Array.from({ length: 7 }, (_, i) =>
      entry({ receivedAt: new Date(base + i * 1000), contentHash: 'page' }),
    );
    for (const e of batch) storage.messages.record(e);
    await storage.messages.flush();
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await storage.messages.list({
        since: new Date(base - 1),
        until: new Date(base + 10_000),
        limit: 3,
        ...(cursor ? { cursor } : {}),
      });
      seen.push(...page.items.map((m) => m.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(batch.map((e) => e.id).reverse());
  });

  it('never blocks the caller: a full buffer drops rows and counts them', async () => {
    const before = (await metrics.logRowsDropped.get()).values.reduce((n, v) => n + v.value, 0);
    const blocked = await openStorage(
      loadConfig({
        file: null,
        env: {},
        overrides: {
          database: { url: 'postgres://nobody@127.0.0.1:1/none' },
          logBuffer: { maxRows: 2, flushRows: 100, flushIntervalMs: 10 },
        },
      }),
      { logger: silentLogger(), metrics },
    ).catch((err: Error) => err);
    // An unreachable database fails at open (migrations): the service reports it rather than running blind.
    expect(blocked).toBeInstanceOf(Error);
    // The buffer bound itself, on the live store:
    const live = storage.messages as typeof storage.messages & { pending: number };
    for (let i = 0; i < 15; i++) live.record(entry());
    expect(live.pending).toBeLessThanOrEqual(10);
    const after = (await metrics.logRowsDropped.get()).values.reduce((n, v) => n + v.value, 0);
    expect(after).toBeGreaterThan(before);
    await storage.messages.flush();
  });

  it('quarantines one stored message with one row per recipient, released or deleted each alone', async () => {
    const messageId = randomUUID();
    const rows = await storage.quarantine.hold({
      messageId,
      mailFrom: 'spammer@bad.example',
      recipients: ['a@example.net', 'b@example.net'],
      subject: 'cheap pills',
      headerFrom: 'x@bad.example',
      score: 0.99,
      reason: 'score 0.990 >= quarantine 0.950',
      raw: Buffer.from('Subject: cheap pills\r\n\r\nbuy'),
      expiresAt: new Date(Date.now() + 7 * 86_400_000),
    });
    expect(rows.map((r) => r.recipient).sort()).toEqual(['a@example.net', 'b@example.net']);
    expect(await storage.quarantine.countHeld()).toBe(2);
    const [a, b] = rows as [(typeof rows)[0], (typeof rows)[0]];
    expect((await storage.quarantine.getRaw(a.id))?.toString()).toContain('buy');

    expect(await storage.quarantine.claimRelease(a.id, 'admin-key-1')).toMatchObject({ state: 'releasing' });
    // Claimed: a second release and a delete both find nothing to change.
    expect(await storage.quarantine.claimRelease(a.id, 'x')).toBeNull();
    expect(await storage.quarantine.remove([a.id], 'x')).toEqual([]);
    const released = await storage.quarantine.completeRelease(a.id, 'admin-key-1', true);
    expect(released).toMatchObject({ state: 'released', actedBy: 'admin-key-1' });
    expect(await storage.quarantine.remove([a.id], 'x')).toEqual([]);
    // b is still held, so the shared bytes stay; a's row no longer reads them.
    expect(await storage.quarantine.getRaw(a.id)).toBeNull();
    expect((await storage.quarantine.getRaw(b.id))?.toString()).toContain('buy');
    expect((await storage.quarantine.get(b.id))?.state).toBe('held');
    expect(
      (await storage.quarantine.list({ state: 'held', recipient: 'B@example.net' })).items.map((r) => r.id),
    ).toEqual([b.id]);
  });

  it('holds a message for more recipients than one statement can carry', async () => {
    // 12 parameters a row: past 5 461 rows one insert would exceed Postgres's 65 535 parameters.
    const recipients = Array.from({ length: 6000 }, (_, i) => `r${i}@many.example`);
    const held = await storage.quarantine.countHeld();
    const rows = await storage.quarantine.hold({
      messageId: randomUUID(),
      mailFrom: 'bulk@bad.example',
      recipients,
      subject: 'to everyone',
      headerFrom: null,
      score: 0.99,
      reason: 'score',
      raw: Buffer.from('Subject: to everyone\r\n\r\nhi'),
      expiresAt: new Date(Date.now() + 86_400_000),
    });
    expect(rows.map((r) => r.recipient)).toEqual(recipients);
    expect(await storage.quarantine.countHeld()).toBe(held + 6000);
    await storage.quarantine.remove(
      rows.map((r) => r.id),
      'test',
    );
  });

  it('keeps concurrent quarantine writes apart: one that fails never takes another down with it', async () => {
    const hold = (messageId: string, recipient: string) =>
      storage.quarantine.hold({
        messageId,
        mailFrom: 'x@bad.example',
        recipients: [recipient],
        subject: 'concurrent',
        headerFrom: null,
        score: 0.99,
        reason: 'score',
        raw: Buffer.from('Subject: concurrent\r\n\r\nhi'),
        expiresAt: new Date(Date.now() + 86_400_000),
      });
    for (let round = 0; round < 20; round++) {
      const first = randomUUID();
      // The third reuses the first's message id and fails; the second must be stored whatever the order.
      const results = await Promise.allSettled([
        hold(first, `a${round}@concurrent.example`),
        hold(randomUUID(), `b${round}@concurrent.example`),
        hold(first, `c${round}@concurrent.example`),
      ]);
      // One of the two with the same id is stored (which, the order of the writes decides), and the second.
      expect(results[1]?.status).toBe('fulfilled');
      expect([results[0]?.status, results[2]?.status].sort()).toEqual(['fulfilled', 'rejected']);
      for (const r of results)
        if (r.status === 'fulfilled')
          for (const row of r.value)
            expect(await storage.quarantine.get(row.id), `round ${round}`).not.toBeNull();
    }
  });

  it('rolls the whole quarantine write back when any part fails', async () => {
    const messageId = randomUUID();
    const hold = {
      messageId,
      mailFrom: '',
      recipients: ['c@example.net'],
      subject: null,
      headerFrom: null,
      score: 0.97,
      reason: 'r',
      raw: Buffer.from('x'),
      expiresAt: new Date(Date.now() + 1000),
    };
    await storage.quarantine.hold(hold);
    const held = await storage.quarantine.countHeld();
    // Same stored-message id again: the second insert fails, and none of its recipient rows remain.
    await expect(
      storage.quarantine.hold({ ...hold, recipients: ['d@example.net', 'e@example.net'] }),
    ).rejects.toThrow();
    expect(await storage.quarantine.countHeld()).toBe(held);
  });

  it('purges by retention in batches: expired quarantine, old logs, old raw bytes', async () => {
    const old = entry({ receivedAt: new Date(Date.now() - 40 * 86_400_000) });
    const rawOnly = entry({ receivedAt: new Date(Date.now() - 8 * 86_400_000) });
    storage.messages.record(old);
    storage.messages.record(rawOnly);
    await storage.messages.flush();
    const result = await purgeOnce(storage.db, config, new Date(Date.now() + 2000));
    expect(result.messages).toBeGreaterThanOrEqual(1);
    expect(result.quarantine).toBeGreaterThanOrEqual(1); // the one that expired after 1 s
    expect(await storage.messages.get(old.id)).toBeNull();
    expect((await storage.messages.get(rawOnly.id))?.hasRaw).toBe(false);
  });

  it('keeps feedback, keys (hashed) and an audit trail', async () => {
    await storage.feedback.record({
      messageId: null,
      contentHash: 'c1',
      label: 'spam',
      actor: 'k1',
      raw: null,
    });
    await new Promise((r) => setTimeout(r, 5));
    await storage.feedback.record({
      messageId: null,
      contentHash: 'c1',
      label: 'ham',
      actor: 'k1',
      raw: null,
      authSignals: ['spf-pass', 'dmarc-pass'],
    });
    expect(await storage.feedback.latestLabel('c1')).toEqual({
      label: 'ham',
      authSignals: ['spf-pass', 'dmarc-pass'],
    });
    expect(await storage.feedback.latestLabel('other')).toBeNull();

    const { key, record } = await storage.keys.create('analyst', 'ci');
    expect((await storage.keys.verify(key))?.role).toBe('analyst');
    expect(await storage.keys.verify(`${key}x`)).toBeNull();
    const stored = await storage.db
      .selectFrom('api_keys')
      .select('key_hash')
      .where('id', '=', record.id)
      .executeTakeFirstOrThrow();
    expect(stored.key_hash).not.toContain(key);
    expect(await storage.keys.revoke(record.id)).toBe(true);
    expect(await storage.keys.verify(key)).toBeNull();
    const boot = await storage.keys.ensure('bootstrap-admin-key-0123456789', 'admin');
    expect((await storage.keys.verify('bootstrap-admin-key-0123456789'))?.id).toBe(boot.id);

    await storage.audit.write({
      actor: 'k1',
      action: 'quarantine.release',
      target: 'q1',
      details: { recipients: 2 },
    });
    expect((await storage.audit.list(1))[0]).toMatchObject({
      actor: 'k1',
      action: 'quarantine.release',
      details: { recipients: 2 },
    });
  });

  it('keeps feedback with its raw bytes: replayed oldest first with the label each replaced, the most recent N', async () => {
    const give = async (contentHash: string, label: 'spam' | 'ham', raw: string | null, auth?: string[]) => {
      await new Promise((r) => setTimeout(r, 3)); // distinct created_at, as feedback given by hand has
      return storage.feedback.record({
        messageId: null,
        contentHash,
        label,
        actor: 'k1',
        raw: raw === null ? null : Buffer.from(raw),
        ...(auth ? { authSignals: auth } : {}),
      });
    };
    await give('r1', 'ham', null, ['dkim-pass-aligned']); // before migration 0004: no bytes, yet live feedback unlearned it
    const after = new Date();
    await give('r1', 'spam', 'bytes of r1', ['spf-fail', 'dmarc-fail-reject']);
    await give('r2', 'spam', 'bytes of r2');
    await give('r1', 'ham', 'bytes of r1 again');
    await give('r3', 'ham', null); // no bytes: cannot be replayed

    const replayed = [];
    for await (const row of storage.feedback.replayable(after, 100)) replayed.push(row);
    expect(replayed.map((r) => [r.contentHash, r.label, r.previous, r.raw.toString()])).toEqual([
      ['r1', 'spam', 'ham', 'bytes of r1'],
      ['r2', 'spam', null, 'bytes of r2'],
      ['r1', 'ham', 'spam', 'bytes of r1 again'],
    ]);
    // Each row's auth signals, and those of the row it replaced (un-learned with it).
    expect(replayed.map((r) => [r.authSignals, r.previousAuthSignals])).toEqual([
      [['spf-fail', 'dmarc-fail-reject'], ['dkim-pass-aligned']],
      [[], []],
      [[], ['spf-fail', 'dmarc-fail-reject']],
    ]);
    const newest = [];
    for await (const row of storage.feedback.replayable(after, 2)) newest.push(row.contentHash);
    expect(newest).toEqual(['r2', 'r1']);
    const everything = [];
    for await (const row of storage.feedback.replayable(null, 100)) everything.push(row);
    expect(everything.length).toBeGreaterThanOrEqual(3);

    // Training: the latest label of each content (as of `until`), with the newest bytes kept for it.
    const training = [];
    for await (const t of storage.feedback.forTraining(new Date(), 100))
      if (t.contentHash.startsWith('r')) training.push([t.contentHash, t.label, t.raw.toString()]);
    expect(training).toEqual([
      ['r2', 'spam', 'bytes of r2'],
      ['r1', 'ham', 'bytes of r1 again'],
    ]);
    const asOfEarlier = [];
    for await (const t of storage.feedback.forTraining(replayed[1]?.createdAt as Date, 100))
      if (t.contentHash.startsWith('r')) asOfEarlier.push([t.contentHash, t.label]);
    expect(asOfEarlier).toEqual([
      ['r1', 'spam'],
      ['r2', 'spam'],
    ]);

    if (backend === 'postgres') {
      // Migration 0004: lz4 where the server has it, as the other raw columns (0002).
      const { rows } = await sql<{ lz4: boolean; compression: string }>`
        select exists (select 1 from pg_settings
                       where name = 'default_toast_compression' and 'lz4' = any(enumvals)) as lz4,
               attcompression as compression
        from pg_attribute where attrelid = 'feedback'::regclass and attname = 'raw'`.execute(storage.db);
      if (rows[0]?.lz4) expect(rows[0]?.compression).toBe('l');
    }
  });

  it('reads feedback for sync: after a (created_at, id) position, leaving out the ids given, with its own id and time', async () => {
    const at = new Date(Date.now() + 60_000); // after every row of the other tests
    const ids = ['00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002'];
    for (const [i, id] of ids.entries())
      await storage.feedback.record({
        id,
        createdAt: at,
        messageId: null,
        contentHash: `s${i}`,
        label: 'spam',
        actor: 'k1',
        raw: Buffer.from(`bytes of s${i}`),
      });
    const late = await storage.feedback.record({
      createdAt: new Date(at.getTime() + 1),
      messageId: null,
      contentHash: 's2',
      label: 'ham',
      actor: 'k1',
      raw: Buffer.from('bytes of s2'),
    });
    const read = async (after: { createdAt: Date; id: string }, exclude: string[]) => {
      const rows = [];
      for await (const row of storage.feedback.replayableAfter(after, exclude)) rows.push(row.id);
      return rows;
    };
    // Same created_at: the id orders them, as the replay does.
    expect(await read({ createdAt: at, id: ids[0]! }, [])).toEqual([ids[1], late.id]);
    expect(await read({ createdAt: new Date(at.getTime() - 1), id: ids[0]! }, [ids[1]!])).toEqual([
      ids[0],
      late.id,
    ]);
    expect(await read({ createdAt: late.createdAt, id: late.id }, [])).toEqual([]);
  });

  it('stores model versions with exactly one active, and lets only one training run at a time', async () => {
    await storage.models.save({
      version: 'm1',
      trainingSet: 'sa-train',
      evaluation: null,
      artefact: Buffer.from('a1'),
    });
    await storage.models.save({
      version: 'm2',
      trainingSet: 'sa-train',
      evaluation: null,
      artefact: Buffer.from('a2'),
    });
    await storage.models.activate('m1');
    await storage.models.activate('m2');
    expect((await storage.models.getActive())?.version).toBe('m2');
    // Switches at once (as several instances may): each succeeds, one after the other, one version active.
    await Promise.all(['m1', 'm2', 'm1', 'm2', 'm1', 'm2'].map((v) => storage.models.activate(v)));
    expect((await storage.models.list()).filter((m) => m.active)).toHaveLength(1);
    await storage.models.activate('m2');
    expect((await storage.models.list()).filter((m) => m.active)).toHaveLength(1);
    expect((await storage.models.getArtefact('m1'))?.toString()).toBe('a1');
    expect(await storage.models.get('m1')).toMatchObject({ version: 'm1', active: false });
    expect(await storage.models.get('nope')).toBeNull();
    // A version trained with feedback is dated when its feedback was read (replay starts there).
    const readAt = new Date(Date.now() - 60_000);
    const dated = await storage.models.save({
      version: 'm3',
      trainingSet: 'sa-train+feedback:0',
      evaluation: null,
      artefact: Buffer.from('a3'),
      createdAt: readAt,
    });
    expect(dated.createdAt.getTime()).toBe(readAt.getTime());
    await expect(storage.models.activate('nope')).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });

    let release: () => void = () => {};
    const first = storage.models.withTrainingLock(
      () =>
        new Promise<string>((r) => {
          release = () => r('trained');
        }),
    );
    await new Promise((r) => setTimeout(r, 20));
    expect(await storage.models.withTrainingLock(async () => 'second')).toBeNull();
    release();
    expect(await first).toBe('trained');
    expect(await storage.models.withTrainingLock(async () => 'again')).toBe('again');
  });
});
