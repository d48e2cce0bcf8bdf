/**
 * The milter server against a small TypeScript milter client speaking the MTA's side: negotiation, every
 * command, body chunks, ABORT and QUIT_NC, malformed and oversized packets, an MTA vanishing mid-body, and
 * each decision of the pipeline as milter replies.
 */
import { spawn } from 'node:child_process';
import { lstat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSpamAssassin } from '../../src/classifier/corpus.js';
import { Action, Step, WANTED_ACTIONS, WANTED_STEPS, WANTED_STEPS_LOCAL } from '../../src/milter/protocol.js';
import { freshDatabaseWithClient } from '../helpers/db.js';
import {
  ALL_STEPS,
  decodeChanges,
  type MilterClient,
  milterConnect,
  startMilterService,
} from '../helpers/milter-client.js';
import { startTestService, type TestService } from '../helpers/service.js';

const corpus = loadSpamAssassin('test');
const crlf = (b: Buffer) => Buffer.from(b.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
const HAM = crlf(
  corpus.find((m) => m.label === 'ham' && m.raw.length < 4000 && !m.raw.includes('\n\n\n'))!.raw,
);
const SPAM = crlf(corpus.find((m) => m.label === 'spam' && m.raw.length < 6000)!.raw);
const BIG_HAM = crlf(corpus.find((m) => m.label === 'ham' && m.raw.length > 40_000)!.raw);

async function logged(svc: TestService) {
  await svc.app.storage.messages.flush();
  return (await svc.app.storage.messages.list({ limit: 100 })).items;
}

/** A negotiated client that has reported a connection, HELO, sender and recipients. */
async function ready(
  svc: TestService,
  rcpt: string[] = ['bob@example.net'],
  opts: { queueId?: string; client?: string } = {},
): Promise<MilterClient> {
  const c = await milterConnect(svc.milterPort);
  await c.negotiate();
  c.macro('C', { j: 'mx.example.net', '{daemon_name}': 'smtpd' });
  c.connectInfo('client.example.org', opts.client ?? '192.0.2.7');
  c.helo('client.example.org');
  c.macro('M', { i: opts.queueId ?? 'QID1', '{mail_addr}': 'alice@example.org' });
  c.mail('alice@example.org');
  for (const r of rcpt) c.rcpt(r);
  return c;
}

/** Another message on a connection past HELO: its envelope, then the ham, which is accepted. */
async function passAnother(c: MilterClient, queueId: string, mailFrom: string, rcptTo: string) {
  c.macro('M', { i: queueId });
  c.mail(mailFrom);
  c.rcpt(rcptTo);
  c.message(HAM);
  expect((await c.readFinal()).final.cmd).toBe('a');
}

describe('the milter', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startMilterService({
      thresholds: { tag: 0.5, quarantine: 0.95 },
      domains: { 'lax.example': { quarantine: null }, 'strict.example': { reject: 0.9 } },
    });
  });
  afterAll(async () => {
    await svc.stop();
  });

  it('runs without the SMTP proxy (SMTP_LISTEN=off)', () => {
    expect(svc.smtpPort).toBe(0);
    expect(svc.milterPort).toBeGreaterThan(0);
  });

  it('answers negotiation with only what the MTA offered', async () => {
    const c = await milterConnect(svc.milterPort);
    expect(await c.negotiate()).toEqual({ version: 6, actions: WANTED_ACTIONS, steps: WANTED_STEPS });
    c.close();
    const old = await milterConnect(svc.milterPort);
    // A protocol-2 MTA offering header changes only and no step flags.
    expect(await old.negotiate({ version: 2, actions: Action.ADDHDRS, steps: Step.NOHELO })).toEqual({
      version: 2,
      actions: Action.ADDHDRS,
      steps: 0,
    });
    old.close();
  });

  it('answers DATA, the one reply before end of message, so a TCP peer never waits on a delayed ACK', async () => {
    // Postfix buffers the envelope stages that need no reply, and its milter client leaves Nagle's
    // algorithm on: were DATA unanswered too, the headers and body would wait behind that unacknowledged
    // envelope for the filter's delayed ACK (about 40 ms a message). The reply to DATA carries the ACK.
    const c = await ready(svc, ['bob@example.net'], { queueId: 'QDATA' });
    c.send('T');
    expect((await c.read()).cmd).toBe('c');
    c.message(HAM);
    expect((await c.readFinal()).final.cmd).toBe('a');
    c.close();
  });

  it('answers every stage with CONTINUE when the MTA offers no no-reply bits, and passes ham with headers', async () => {
    const c = await milterConnect(svc.milterPort);
    await c.negotiate({ steps: ALL_STEPS & ~(WANTED_STEPS & ~Step.HDR_LEADSPC) });
    const next = async () => (await c.read()).cmd;
    c.macro('C', { j: 'mx.example.net' });
    c.connectInfo('client.example.org', '192.0.2.8');
    expect(await next()).toBe('c');
    c.helo('client.example.org');
    expect(await next()).toBe('c');
    c.macro('M', { i: 'QEVERY' });
    c.mail('alice@example.org');
    expect(await next()).toBe('c');
    c.rcpt('bob@example.net');
    expect(await next()).toBe('c');
    c.send('T');
    expect(await next()).toBe('c');
    c.send('U', Buffer.from('XYZZY\0'));
    expect(await next()).toBe('c');
    c.header('From', ' alice@example.org');
    expect(await next()).toBe('c');
    c.header('Subject', ' plans for the week');
    expect(await next()).toBe('c');
    c.eoh();
    expect(await next()).toBe('c');
    c.body(Buffer.from('Let us meet on Monday at ten in the small room.\r\n'));
    expect(await next()).toBe('c');
    c.eom();
    const { final, before } = await c.readFinal();
    expect(final.cmd).toBe('a');
    const changes = decodeChanges(before);
    expect(changes.find((x) => x.type === 'add' && x.name === 'X-Spam-Flag')).toMatchObject({ value: ' NO' });
    expect(changes.some((x) => x.type === 'add' && x.name === 'X-MailSentra-Id')).toBe(true);
    const row = (await logged(svc)).find((m) => m.sessionId === 'QEVERY');
    expect(row).toMatchObject({
      action: 'pass',
      clientIp: '192.0.2.8',
      clientHelo: 'client.example.org',
      subject: 'plans for the week',
    });
    c.send('Q');
    await c.closed();
  });

  it('removes forged X-Spam headers (last first) and stamps its own; the queue id and client are logged', async () => {
    const c = await ready(svc, ['bob@example.net'], { queueId: 'QFORGED', client: '198.51.100.4' });
    const forged = Buffer.from(
      `X-Spam-Flag: NO\r\n${HAM.toString('latin1').replace(/\r\n\r\n/, '\r\nX-Spam-Flag: NO\r\nX-Spam-Score: 0.0\r\n\r\n')}`,
      'latin1',
    );
    c.message(forged);
    const { final, before } = await c.readFinal();
    expect(final.cmd).toBe('a');
    const changes = decodeChanges(before);
    expect(changes.filter((x) => x.type === 'change')).toEqual([
      { type: 'change', index: 1, name: 'X-Spam-Score', value: '' },
      { type: 'change', index: 2, name: 'X-Spam-Flag', value: '' },
      { type: 'change', index: 1, name: 'X-Spam-Flag', value: '' },
    ]);
    const id = changes.find((x) => x.type === 'add' && x.name === 'X-MailSentra-Id');
    const row = (await logged(svc)).find((m) => m.id === (id as { value: string }).value.trim());
    expect(row).toMatchObject({ sessionId: 'QFORGED', clientIp: '198.51.100.4', status: 'delivered' });
    c.close();
  });

  it('gives the same verdict whatever the body chunking, with bodies over 64 KiB', async () => {
    const scores: string[] = [];
    for (const chunk of [65_535, 1000, 7]) {
      const c = await ready(svc);
      c.message(BIG_HAM, chunk);
      const { final, before } = await c.readFinal(60_000);
      expect(final.cmd).toBe('a');
      const score = decodeChanges(before).find((x) => x.type === 'add' && x.name === 'X-Spam-Score');
      scores.push((score as { value: string }).value);
      c.close();
    }
    expect(new Set(scores).size).toBe(1);
  });

  it('forgets an aborted message and decides the next one on the same connection', async () => {
    const c = await ready(svc, ['bob@example.net'], { queueId: 'QABORTED' });
    c.header('Subject', ' the aborted one');
    c.body(Buffer.from('half a body'));
    c.send('A');
    await passAnother(c, 'QAFTER', 'carol@example.org', 'dave@example.net');
    const rows = await logged(svc);
    expect(rows.some((m) => m.sessionId === 'QABORTED')).toBe(false);
    const row = rows.find((m) => m.sessionId === 'QAFTER');
    expect(row).toMatchObject({ mailFrom: 'carol@example.org', rcptTo: ['dave@example.net'] });
    expect(row?.subject).not.toBe('the aborted one');
    c.close();
  });

  it('starts over after QUIT_NC: a new client on the same connection', async () => {
    const c = await ready(svc, ['bob@example.net'], { queueId: 'QNC1', client: '192.0.2.10' });
    c.message(HAM);
    expect((await c.readFinal()).final.cmd).toBe('a');
    c.send('K');
    c.connectInfo('other.example.org', '2001:db8::5');
    c.helo('other.example.org');
    await passAnother(c, 'QNC2', 'erin@example.org', 'frank@example.net');
    const row = (await logged(svc)).find((m) => m.sessionId === 'QNC2');
    expect(row).toMatchObject({
      clientIp: '2001:db8::5',
      clientHelo: 'other.example.org',
      mailFrom: 'erin@example.org',
    });
    c.close();
  });

  it('tags spam for a recipient whose domain does not quarantine: subject prefix, X-Spam-Flag YES', async () => {
    const c = await ready(svc, ['gina@lax.example']);
    c.message(SPAM);
    const { final, before } = await c.readFinal();
    expect(final.cmd).toBe('a');
    const changes = decodeChanges(before);
    expect(changes.find((x) => x.type === 'add' && x.name === 'X-Spam-Flag')).toMatchObject({
      value: ' YES',
    });
    const subject = changes.find((x) => x.type === 'change' && x.name?.toLowerCase() === 'subject');
    expect(subject).toMatchObject({ index: 1 });
    expect((subject as { value: string }).value).toMatch(/^ \[SPAM\] /);
    c.close();
  });

  it('quarantines spam for every recipient and discards the MTA copy', async () => {
    const c = await ready(svc, ['hank@example.net', 'ivy@example.net'], { queueId: 'QHELD' });
    c.message(SPAM);
    const { final } = await c.readFinal();
    expect(final.cmd).toBe('d');
    const held = await svc.app.storage.quarantine.list({ state: 'held' });
    expect(
      held.items.filter((q) => ['hank@example.net', 'ivy@example.net'].includes(q.recipient)),
    ).toHaveLength(2);
    expect((await logged(svc)).find((m) => m.sessionId === 'QHELD')).toMatchObject({
      action: 'quarantine',
      status: 'quarantined',
    });
    c.close();
  });

  it('holds spam for 6 000 recipients, half of them in a domain that only tags', async () => {
    // More rows than one insert statement can carry (12 parameters each, 65 535 at most).
    const strict = Array.from({ length: 6000 }, (_, i) => `m${i}@many.example`);
    const lax = Array.from({ length: 3000 }, (_, i) => `m${i}@lax.example`);
    const c = await ready(svc, [...strict, ...lax], { queueId: 'QMANY' });
    c.message(SPAM);
    const { final, before } = await c.readFinal(60_000);
    expect(final.cmd).toBe('a');
    expect(before.filter((p) => p.cmd === '-')).toHaveLength(6000);
    const row = (await logged(svc)).find((m) => m.sessionId === 'QMANY');
    expect(row).toMatchObject({ action: 'quarantine', status: 'partial' });
    expect(row?.reason).toMatch(
      /held for m0@many\.example, m1@many\.example, m2@many\.example and 5997 more;/,
    );
    expect((await svc.app.storage.quarantine.list({ recipient: 'm5999@many.example' })).items).toHaveLength(
      1,
    );
    c.close();
  }, 60_000);

  it('gives two recipients with different policies each their own outcome', async () => {
    const c = await ready(svc, ['judy@example.net', 'kim@lax.example'], { queueId: 'QSPLIT' });
    c.message(SPAM);
    const { final, before } = await c.readFinal();
    expect(final.cmd).toBe('a');
    const changes = decodeChanges(before);
    expect(changes.filter((x) => x.type === 'delrcpt')).toEqual([
      { type: 'delrcpt', rcpt: '<judy@example.net>' },
    ]);
    expect(changes.find((x) => x.type === 'add' && x.name === 'X-Spam-Flag')).toMatchObject({
      value: ' YES',
    });
    const held = await svc.app.storage.quarantine.list({ state: 'held' });
    expect(held.items.some((q) => q.recipient === 'judy@example.net')).toBe(true);
    expect(held.items.some((q) => q.recipient === 'kim@lax.example')).toBe(false);
    expect((await logged(svc)).find((m) => m.sessionId === 'QSPLIT')).toMatchObject({
      action: 'quarantine',
      status: 'partial',
    });
    c.close();
  });

  it('closes only the offending connection on malformed or oversized packets', async () => {
    const bad: [string, Buffer][] = [
      ['zero length', Buffer.from([0, 0, 0, 0])],
      ['oversized length', Buffer.from([0, 0x20, 0, 0, 0x42])],
      ['unknown command', Buffer.from([0, 0, 0, 1, 0x5a])],
      ['short OPTNEG', Buffer.from([0, 0, 0, 3, 0x4f, 0, 6])],
    ];
    const bystander = await ready(svc, ['lee@example.net']);
    for (const [what, bytes] of bad) {
      const c = await milterConnect(svc.milterPort);
      if (what !== 'short OPTNEG') await c.negotiate();
      c.raw(bytes);
      await expect(c.closed(), what).resolves.toBeUndefined();
    }
    // Before negotiation, and a CONNECT without its address.
    const early = await milterConnect(svc.milterPort);
    early.helo('x');
    await early.closed();
    const broken = await milterConnect(svc.milterPort);
    await broken.negotiate();
    broken.send('C', Buffer.from('host\0'));
    await broken.closed();
    // The connection in the middle of a message was not disturbed.
    bystander.message(HAM);
    expect((await bystander.readFinal()).final.cmd).toBe('a');
    bystander.close();
  });

  it('survives an MTA vanishing mid-body', async () => {
    const c = await ready(svc, ['mia@example.net'], { queueId: 'QVANISH' });
    c.header('Subject', ' going away');
    c.body(BIG_HAM.subarray(0, 30_000));
    c.close();
    const deadline = Date.now() + 5000;
    while (svc.app.milter?.openConnections !== 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(svc.app.milter?.openConnections).toBe(0);
    const d = await ready(svc, ['ned@example.net'], { queueId: 'QSTAYED' });
    d.message(HAM);
    expect((await d.readFinal()).final.cmd).toBe('a');
    d.close();
    const rows = await logged(svc);
    expect(rows.some((m) => m.sessionId === 'QVANISH')).toBe(false);
    expect(rows.some((m) => m.sessionId === 'QSTAYED')).toBe(true);
  });

  it('rejects with 550 5.7.1 and the log reference when the policy rejects', async () => {
    const c = await ready(svc, ['quinn@strict.example']);
    c.message(SPAM);
    const { final } = await c.readFinal();
    expect(final.cmd).toBe('y');
    const text = final.data.toString('latin1');
    expect(text).toMatch(/^550 5\.7\.1 Message rejected as spam \(score [01]\.\d{3}, ref [0-9a-f-]{36}\)\0$/);
    c.close();
  });
});

describe('the milter against a peer sending without end', () => {
  let svc: TestService;
  const MAX = 64 * 1024;
  beforeAll(async () => {
    svc = await startTestService({
      config: { smtp: { listen: 'off', maxMessageSize: MAX }, milter: { listen: '127.0.0.1:0' } },
    });
  });
  afterAll(async () => {
    await svc.stop();
  });

  it('counts recipients toward smtp.maxMessageSize: 552 at the end, and the connection goes on', async () => {
    const c = await ready(svc, []);
    const long = `${'r'.repeat(1000)}@example.net`;
    for (let i = 0; i < 100; i++) c.rcpt(long);
    c.message(HAM);
    const { final } = await c.readFinal();
    expect(final.cmd).toBe('y');
    expect(final.data.toString('latin1')).toMatch(/^552 5\.3\.4 /);
    // The refusal is a decision like any other: a log row, counted.
    const row = (await logged(svc)).find(
      (m) => m.status === 'rejected' && m.reason.includes('smtp.maxMessageSize'),
    );
    expect(row).toMatchObject({ action: 'reject' });
    expect(row!.size).toBeGreaterThan(MAX);
    await passAnother(c, 'QAFTERBIG', 'alice@example.org', 'bob@example.net');
    c.close();
  });

  it('closes a connection sending over 64 KiB of macros for one stage; the others go on', async () => {
    const bystander = await ready(svc, ['lee@example.net']);
    const c = await milterConnect(svc.milterPort);
    await c.negotiate();
    c.macro('C', { '{huge}': 'x'.repeat(70_000) });
    await c.closed();
    bystander.message(HAM);
    expect((await bystander.readFinal()).final.cmd).toBe('a');
    bystander.close();
  });

  it('logs a client address that is not an address as none', async () => {
    for (const [client, queueId, logged] of [
      ['not-an-ip', 'QBADIP1', null],
      ['', 'QBADIP2', null],
      ['[192.0.2.5]', 'QBADIP3', '192.0.2.5'],
      ['IPv6:2001:db8::5', 'QBADIP4', '2001:db8::5'],
    ] as const) {
      const c = await ready(svc, ['bob@example.net'], { queueId, client });
      c.message(HAM);
      expect((await c.readFinal()).final.cmd).toBe('a');
      c.close();
      await svc.app.storage.messages.flush();
      const [row] = (await svc.app.storage.messages.list({ limit: 20 })).items.filter(
        (m) => m.sessionId === queueId,
      );
      expect(row?.clientIp, client).toBe(logged);
    }
  });
});

describe('the milter on a unix socket', () => {
  it('listens on a socket path, replacing a stale socket file, and negotiates', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mailsentra-milter-'));
    const socketPath = path.join(dir, 'milter.sock');
    // A socket file nobody listens on, as a process killed with SIGKILL leaves it.
    const crashed = spawn(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`,
    ]);
    await new Promise((resolve) => crashed.stdout.once('data', resolve));
    crashed.kill('SIGKILL');
    await new Promise((resolve) => crashed.once('exit', resolve));
    expect((await lstat(socketPath)).isSocket()).toBe(true);
    const svc = await startTestService({ config: { milter: { listen: socketPath } } });
    try {
      expect(svc.milterPort).toBe(0);
      // milter.socketMode's default: the MTA's user reaches it through the service's group, others do not.
      expect((await lstat(socketPath)).mode & 0o777).toBe(0o660);
      const c = await milterConnect(socketPath);
      // No Nagle algorithm on a unix socket: DATA is skipped like the other stages before end of message.
      expect(await c.negotiate()).toEqual({ version: 6, actions: WANTED_ACTIONS, steps: WANTED_STEPS_LOCAL });
      c.macro('M', { i: 'QLOCAL' });
      c.mail('alice@example.org');
      c.rcpt('bob@example.net');
      c.message(HAM);
      expect((await c.readFinal()).final.cmd).toBe('a');
      c.close();
    } finally {
      await svc.stop();
      await rm(dir, { recursive: true, force: true });
    }
    // It starts a service of its own, which takes as long as a beforeAll under a loaded CI machine.
  }, 120_000);

  it('gives the socket the permissions milter.socketMode names', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mailsentra-milter-'));
    const socketPath = path.join(dir, 'milter.sock');
    const svc = await startTestService({ config: { milter: { listen: socketPath, socketMode: '0600' } } });
    try {
      expect((await lstat(socketPath)).mode & 0o777).toBe(0o600);
    } finally {
      await svc.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe.skipIf(!process.env.DATABASE_URL)('the milter with a slow or failing database', () => {
  let svc: TestService;
  let db: Awaited<ReturnType<typeof freshDatabaseWithClient>>;
  let direct: pg.Client;
  beforeAll(async () => {
    db = await freshDatabaseWithClient();
    direct = db.client;
    svc = await startTestService({
      config: { database: { url: db.url }, milter: { listen: '127.0.0.1:0', progressIntervalMs: 50 } },
    });
  });
  afterAll(async () => {
    await svc?.stop();
    await db?.drop();
  });

  it('sends PROGRESS while the quarantine waits for the database, then discards', async () => {
    await direct.query('begin');
    await direct.query('lock table quarantine_messages in exclusive mode');
    const c = await ready(svc, ['olga@example.net']);
    c.message(SPAM);
    // Until the quarantine insert waits on the lock, then a while longer: the decision is held back.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { rows } = await direct.query(
        "select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()",
      );
      if (rows[0].n > 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 300));
    await direct.query('commit');
    const { final, before } = await c.readFinal();
    expect(final.cmd).toBe('d');
    expect(decodeChanges(before).filter((x) => x.type === 'progress').length).toBeGreaterThanOrEqual(3);
    c.close();
  });

  it('answers 451 4.3.0 when the quarantine cannot be stored', async () => {
    await direct.query('alter table quarantine_messages rename to quarantine_messages_away');
    try {
      const c = await ready(svc, ['pat@example.net']);
      c.message(SPAM);
      const { final } = await c.readFinal();
      expect(final.cmd).toBe('y');
      expect(final.data.toString('latin1')).toMatch(/^451 4\.3\.0 /);
      c.close();
    } finally {
      await direct.query('alter table quarantine_messages_away rename to quarantine_messages');
    }
  });
});
