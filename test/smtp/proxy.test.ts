import { execFile } from 'node:child_process';
import { Socket } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadSpamAssassin } from '../../src/classifier/corpus.js';
import { expectPassedIntact } from '../helpers/mail.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { type Sink, startSink } from '../helpers/sink.js';
import { rawSession, send } from '../helpers/smtp-client.js';

const corpus = loadSpamAssassin('test');
const ham = corpus.find((m) => m.label === 'ham' && m.raw.length < 4000 && !m.raw.includes('\n\n\n'))!.raw;
const spam = corpus.find((m) => m.label === 'spam' && m.raw.length < 6000)!.raw;
const crlf = (b: Buffer) => Buffer.from(b.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
const HAM = crlf(ham);
const SPAM = crlf(spam);
const env = (to: string[] = ['bob@example.net']) => ({ from: 'alice@example.org', to });

async function logged(svc: TestService) {
  await svc.app.storage.messages.flush();
  return (await svc.app.storage.messages.list({ limit: 50 })).items;
}

describe('the SMTP proxy', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.stop();
  });
  afterEach(() => {
    svc.sink.messages.length = 0;
    svc.sink.behaviour = { kind: 'accept' };
  });

  it('passes ham to the next hop with X-Spam headers on top and the original bytes untouched', async () => {
    const r = await send(svc.smtpPort, env(), HAM);
    expect(r.code).toBe(250);
    const { id } = expectPassedIntact(svc.sink, HAM);
    const row = (await logged(svc)).find((m) => m.id === id);
    expect(row).toMatchObject({ action: 'pass', status: 'delivered', mailFrom: 'alice@example.org' });
  });

  it('hands the next hop each message and its terminating dot in one write', async () => {
    // One segment for the next hop to read, not the body and then ".\r\n" apart (patches/nodemailer).
    const writes: Buffer[] = [];
    const proto = Socket.prototype as unknown as {
      _write(chunk: Buffer, encoding: string, cb: () => void): void;
      _writev(chunks: { chunk: Buffer }[], cb: () => void): void;
    };
    const { _write, _writev } = proto;
    const toSink = (s: Socket) => s.remotePort === svc.sink.port;
    proto._write = function (this: Socket, chunk, encoding, cb) {
      if (toSink(this)) writes.push(Buffer.from(chunk));
      return _write.call(this, chunk, encoding, cb);
    };
    proto._writev = function (this: Socket, chunks, cb) {
      if (toSink(this)) writes.push(Buffer.concat(chunks.map((c) => Buffer.from(c.chunk))));
      return _writev.call(this, chunks, cb);
    };
    try {
      expect((await send(svc.smtpPort, env(), HAM)).code).toBe(250);
    } finally {
      proto._write = _write;
      proto._writev = _writev;
    }
    const ending = writes.filter((w) => w.toString('latin1').endsWith('\r\n.\r\n'));
    expect(ending).toHaveLength(1);
    expect(ending[0]?.includes(HAM)).toBe(true);
  });

  it('relays a message many times larger than a socket buffer, whole', async () => {
    // The one-write relay holds the socket corked while the body goes in: a message past the socket's
    // buffer waits for it to drain, so the socket must be uncorked whatever the stream does.
    const line = 'A line of an ordinary long report, repeated to make the message large.\r\n';
    const big = Buffer.concat([
      HAM.subarray(0, HAM.indexOf('\r\n\r\n') + 4),
      Buffer.from(line.repeat(30_000)),
    ]);
    const r = await send(svc.smtpPort, env(), big);
    expect(r.code).toBe(250);
    expectPassedIntact(svc.sink, big);
  });

  it('quarantines spam (one row per recipient) and answers 250 only after it is stored', async () => {
    const r = await send(svc.smtpPort, env(['x@example.net', 'y@example.net']), SPAM);
    expect(r.code).toBe(250);
    expect(r.response).toContain('held in quarantine');
    expect(svc.sink.messages).toHaveLength(0);
    const held = await svc.app.storage.quarantine.list({ state: 'held' });
    expect(held.items.map((q) => q.recipient).sort()).toEqual(['x@example.net', 'y@example.net']);
    expect((await svc.app.storage.quarantine.getRaw(held.items[0]!.id))?.equals(SPAM)).toBe(true);
  });

  it('passes the null sender, every recipient, 8-bit bodies and UTF-8 addresses', async () => {
    const body = Buffer.from(
      'From: x@example.org\r\nSubject: Grüße\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nSchöne Grüße aus München\r\n',
      'utf8',
    );
    const r = await send(svc.smtpPort, { from: '', to: ['bob@example.net', 'jörg@bücher.example'] }, body);
    expect(r.code).toBe(250);
    const got = svc.sink.messages[0]!;
    expect(got.mailFrom).toBe('');
    expect(got.rcptTo).toEqual(['bob@example.net', 'jörg@bücher.example']);
    // The next hop is told what it receives: 8-bit body, its size, UTF-8 addresses.
    expect(got.mailFromArgs).toMatchObject({ BODY: '8BITMIME', SMTPUTF8: true });
    expect(Number(got.mailFromArgs.SIZE)).toBe(got.raw.length);
    expect(got.raw.subarray(got.raw.length - body.length).equals(body)).toBe(true);
  });

  it('answers 451 when the next hop is down, and records the message as deferred, not delivered', async () => {
    const down = await startTestService({ config: { relay: { to: '127.0.0.1:1', timeoutMs: 1000 } } });
    try {
      const r = await send(down.smtpPort, env(), HAM);
      expect(r.code).toBe(451);
      const rows = await logged(down);
      expect(rows[0]).toMatchObject({ action: 'tempfail', status: 'deferred' });
    } finally {
      await down.stop();
    }
  });

  it('sends again on another connection when a pooled one is turned away with 421 before DATA', async () => {
    svc.sink.behaviour = { kind: 'max-per-connection', max: 2 };
    svc.sink.messages.length = 0;
    try {
      const codes: number[] = [];
      for (let n = 0; n < 6; n++) codes.push((await send(svc.smtpPort, env(), HAM)).code);
      expect(codes).toEqual(Array(6).fill(250));
      expect(svc.sink.messages).toHaveLength(6);
    } finally {
      svc.sink.behaviour = { kind: 'accept' };
    }
  });

  it("passes the next hop's 5xx through with its text, and its 4xx as 451", async () => {
    svc.sink.behaviour = { kind: 'data-reply', code: 554, text: '5.7.0 Content refused by policy' };
    const perm = await send(svc.smtpPort, env(), HAM);
    expect(perm.code).toBe(554);
    expect(perm.response).toContain('5.7.0 Content refused by policy');
    svc.sink.behaviour = { kind: 'data-reply', code: 452, text: '4.3.1 Insufficient system storage' };
    const temp = await send(svc.smtpPort, env(), HAM);
    expect(temp.code).toBe(451);
    expect(temp.response).toContain('Insufficient system storage');
  });

  it('loses nobody when the next hop refuses some recipients', async () => {
    // Permanent refusal of one: the others are delivered, the sender gets a DSN naming the refused one.
    svc.sink.behaviour = {
      kind: 'refuse-rcpt',
      recipients: { 'gone@example.net': { code: 550, text: '5.1.1 No such user' } },
    };
    const r = await send(svc.smtpPort, env(['bob@example.net', 'gone@example.net']), HAM);
    expect(r.code).toBe(250);
    const [delivered, dsn] = svc.sink.messages;
    expect(delivered?.rcptTo).toEqual(['bob@example.net']);
    expect(dsn?.mailFrom).toBe('');
    expect(dsn?.rcptTo).toEqual(['alice@example.org']);
    expect(dsn?.raw.toString()).toMatch(/Final-Recipient: rfc822; gone@example\.net[\s\S]*Status: 5\.1\.1/);
    // The log row names the refused recipient with the next hop's words.
    expect((await logged(svc))[0]).toMatchObject({ status: 'partial' });
    expect((await logged(svc))[0]?.response).toContain('gone@example.net: 550 5.1.1 No such user');

    // The DSN cannot be sent for now: the refused recipient must not vanish unreported, so upstream retries.
    svc.sink.messages.length = 0;
    const gone = { code: 550, text: '5.1.1 No such user' };
    svc.sink.behaviour = {
      kind: 'refuse-rcpt',
      recipients: { 'gone@example.net': gone, 'alice@example.org': { code: 451, text: '4.3.0 Try later' } },
    };
    const unreported = await send(svc.smtpPort, env(['bob@example.net', 'gone@example.net']), HAM);
    expect(unreported.code).toBe(451);
    expect((await logged(svc))[0]).toMatchObject({ action: 'tempfail', status: 'deferred' });
    // The sender's address refused outright: no bounce could reach it either, so the others keep their copy.
    svc.sink.behaviour = {
      kind: 'refuse-rcpt',
      recipients: {
        'gone@example.net': gone,
        'alice@example.org': { code: 550, text: '5.1.1 Unknown sender' },
      },
    };
    const unreachable = await send(svc.smtpPort, env(['bob@example.net', 'gone@example.net']), HAM);
    expect(unreachable.code).toBe(250);
    expect((await logged(svc))[0]?.response).toContain('DSN refused');

    // A temporary refusal: upstream must retry, so the whole message gets 451 (a duplicate for bob, no loss).
    svc.sink.messages.length = 0;
    svc.sink.behaviour = {
      kind: 'refuse-rcpt',
      recipients: { 'busy@example.net': { code: 450, text: '4.2.1 Mailbox busy' } },
    };
    const t = await send(svc.smtpPort, env(['bob@example.net', 'busy@example.net']), HAM);
    expect(t.code).toBe(451);
  });

  it('refuses with 552 a message the next hop announces it cannot take, rather than deferring it for ever', async () => {
    const sink = await startSink({ kind: 'accept' }, { size: 2000 });
    const small = await startTestService({ sink });
    try {
      // Under the next hop's limit as sent, over it with our headers on.
      const near = Buffer.concat([Buffer.from('Subject: near the limit\r\n\r\n'), Buffer.alloc(1900, 'a')]);
      const r = await send(small.smtpPort, env(), near);
      expect(r.code).toBe(552);
      expect(r.response).toMatch(/5\.3\.4 .*too big for the next hop/);
      expect((await logged(small))[0]).toMatchObject({ status: 'bounced' });
    } finally {
      await small.stop();
      await sink.close();
    }
  });

  it('refuses oversize mail with 552 and too many recipients with 452', async () => {
    const small = await startTestService({ config: { smtp: { maxMessageSize: 10_000, maxRecipients: 3 } } });
    try {
      const big = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), Buffer.alloc(20_000, 'a')]);
      const r = await send(small.smtpPort, env(), big);
      expect(r.code).toBe(552);
      // The refusal is a decision like any other: a log row with the size that came, counted.
      expect((await logged(small))[0]).toMatchObject({
        action: 'reject',
        status: 'rejected',
        subject: 'big',
      });
      expect((await logged(small))[0]?.size).toBeGreaterThan(20_000);
      const counted = (await small.app.metrics.messages.get()).values;
      expect(counted.find((v) => v.labels.action === 'reject')?.value).toBe(1);
      const replies = await rawSession(small.smtpPort, [
        'EHLO t\r\n',
        'MAIL FROM:<a@example.org>\r\n',
        'RCPT TO:<1@example.net>\r\n',
        'RCPT TO:<2@example.net>\r\n',
        'RCPT TO:<3@example.net>\r\n',
        'RCPT TO:<4@example.net>\r\n',
        'QUIT\r\n',
      ]);
      expect(replies[6]).toMatch(/^452 4\.5\.3/);
      expect(small.sink.messages).toHaveLength(0);
    } finally {
      await small.stop();
    }
  });

  it.each([
    ['bare LF dot bare LF', 'Subject: a\r\n\r\nhello\n.\nMAIL FROM:<evil@example.org>\r\n'],
    ['bare LF dot CRLF', 'Subject: a\r\n\r\nhello\n.\r\nRCPT TO:<x@example.net>\r\n'],
    ['CRLF dot bare LF', 'Subject: a\r\n\r\nhello\r\n.\nDATA\r\n'],
    ['bare CR dot bare CR', 'Subject: a\r\n\r\nhello\r.\rQUIT\r\n'],
  ])('never lets a smuggled end-of-data through (%s)', async (_name, payload) => {
    const replies = await rawSession(svc.smtpPort, [
      'EHLO t\r\n',
      'MAIL FROM:<a@example.org>\r\n',
      'RCPT TO:<b@example.net>\r\n',
      'DATA\r\n',
      `${payload}\r\n.\r\n`,
      'QUIT\r\n',
    ]);
    expect(replies[5]).toMatch(/^550 5\.6\.0/);
    // One reply for the whole DATA: nothing after the fake terminator ran as a command.
    expect(replies[6]).toMatch(/^221/);
    expect(svc.sink.messages).toHaveLength(0);
  });

  it('handles 50 concurrent sessions, each message delivered once with its own id', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        send(
          svc.smtpPort,
          env([`user${i}@example.net`]),
          Buffer.concat([Buffer.from(`X-Seq: ${i}\r\n`), HAM]),
        ),
      ),
    );
    expect(results.every((r) => r.code === 250)).toBe(true);
    expect(svc.sink.messages).toHaveLength(50);
    const seqs = svc.sink.messages
      .map((m) => Number(/X-Seq: (\d+)/.exec(m.raw.toString())![1]))
      .sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const ids = new Set(svc.sink.messages.map((m) => /X-MailSentra-Id: (\S+)/.exec(m.raw.toString())![1]));
    expect(ids.size).toBe(50);
  });

  // --helo: without it swaks looks up this host's name in DNS, and tests make no DNS lookups.
  // execFile, not spawnSync: the service runs in this process and must keep answering. execFile rejects on a
  // non-zero exit, so a failed swaks run fails the test.
  it('works with swaks, a real SMTP client', async () => {
    const r = await promisify(execFile)(
      'swaks',
      [
        '--server',
        `127.0.0.1:${svc.smtpPort}`,
        '--from',
        'alice@example.org',
        '--to',
        'bob@example.net',
        '--header',
        'Subject: swaks test',
        '--body',
        'hello from swaks',
      ],
      { encoding: 'utf8' },
    );
    expect(r.stdout).toMatch(/<- {1,2}250 2\.0\.0 Ok: [0-9a-f-]{36} delivered/);
    expect(svc.sink.messages[0]?.raw.toString()).toContain('hello from swaks');
  });
});

describe('policy outcomes at SMTP time', () => {
  let svc: TestService;
  let sink: Sink;
  beforeAll(async () => {
    sink = await startSink();
  });
  afterAll(async () => {
    await sink.close();
  });

  it('tags spam with a subject prefix when quarantine is off', async () => {
    svc = await startTestService({ sink, config: { policy: { thresholds: { quarantine: null } } } });
    try {
      expect((await send(svc.smtpPort, env(), SPAM)).code).toBe(250);
      const text = sink.messages.at(-1)!.raw.toString('latin1');
      expect(text).toMatch(/^X-Spam-Flag: YES\r\n/);
      expect(text).toMatch(/\r\nSubject: \[SPAM\] /);
    } finally {
      await svc.stop();
    }
  });

  it('rejects with 550 5.7.1, the score and the log id when reject is on', async () => {
    svc = await startTestService({ sink, config: { policy: { thresholds: { reject: 0.9 } } } });
    try {
      const before = sink.messages.length;
      const r = await send(svc.smtpPort, env(), SPAM);
      expect(r.code).toBe(550);
      expect(r.response).toMatch(/5\.7\.1 Message rejected as spam \(score [01]\.\d{3}, ref [0-9a-f-]{36}\)/);
      const ref = /ref ([0-9a-f-]{36})/.exec(r.response)![1]!;
      await svc.app.storage.messages.flush();
      expect(await svc.app.storage.messages.get(ref)).toMatchObject({ action: 'reject', status: 'rejected' });
      expect(sink.messages.length).toBe(before);
    } finally {
      await svc.stop();
    }
  });
});
