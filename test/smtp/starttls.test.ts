/**
 * STARTTLS on the inbound side (RFC 3207): offered exactly when `smtp.tlsCert` and `smtp.tlsKey` are set,
 * refused as an unknown command otherwise; a client that upgrades gets the same filtering as a plaintext one;
 * a client that botches the handshake loses only its own connection. On the outbound side,
 * `relay.requireTls` never lets a message go to a next hop that cannot encrypt.
 */
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectPassedIntact } from '../helpers/mail.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { send } from '../helpers/smtp-client.js';
import { makeSelfSignedCertificate, type TestCertificate } from '../helpers/tls.js';

const HAM =
  'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: minutes\r\nMessage-ID: <tls-1@example.org>\r\n\r\n' +
  'The minutes of Tuesday are attached, see you next week.\r\n';
const env = { from: 'alice@example.org', to: ['bob@example.net'] };

/** EHLO keywords of a multi-line 250 reply, without the greeting line: `['PIPELINING', 'SIZE 26214400', …]`. */
const keywords = (ehloReply: string) =>
  ehloReply
    .split('\r\n')
    .slice(1)
    .map((l) => l.slice(4));

/**
 * A hand-driven SMTP client: one command, one reply; `startTls` upgrades the connection the way an MTA does,
 * and `closed` tells when the server hung up.
 */
interface Dialog {
  greeting: string;
  command(line: string): Promise<string>;
  /** Writes bytes and returns without waiting for a reply. */
  write(bytes: string): void;
  startTls(): Promise<tls.TLSSocket>;
  closed: Promise<void>;
  isClosed(): boolean;
  end(): void;
}

async function dial(port: number, timeoutMs = 5000): Promise<Dialog> {
  const raw = net.connect({ host: '127.0.0.1', port });
  let socket: net.Socket = raw;
  let buffer = '';
  let hungUp = false;
  const replies: string[] = [];
  let waiting: { resolve(r: string): void; reject(e: Error): void } | null = null;
  const closed = once(raw, 'close').then(() => {
    hungUp = true;
    waiting?.reject(new Error('connection closed before a reply'));
    waiting = null;
  });
  raw.on('error', () => undefined);
  const onData = (d: Buffer) => {
    buffer += d.toString('latin1');
    for (;;) {
      const m = /^((?:\d{3}-[^\r\n]*\r\n)*\d{3} [^\r\n]*\r\n)/.exec(buffer);
      if (!m) break;
      buffer = buffer.slice(m[1]!.length);
      replies.push(m[1]!.replace(/\r\n$/, ''));
    }
    if (waiting && replies.length > 0) {
      const w = waiting;
      waiting = null;
      w.resolve(replies.shift()!);
    }
  };
  raw.on('data', onData);
  const next = () =>
    new Promise<string>((resolve, reject) => {
      if (replies.length > 0) return resolve(replies.shift()!);
      if (hungUp) return reject(new Error('connection closed before a reply'));
      const timer = setTimeout(() => reject(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
      waiting = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  const greeting = await next();
  return {
    greeting,
    command(line) {
      socket.write(`${line}\r\n`);
      return next();
    },
    write(bytes) {
      socket.write(bytes);
    },
    async startTls() {
      raw.removeListener('data', onData);
      const secure = tls.connect({ socket: raw, servername: 'localhost', rejectUnauthorized: false });
      await once(secure, 'secureConnect');
      secure.on('data', onData);
      secure.on('error', () => undefined);
      socket = secure;
      return secure;
    },
    closed,
    isClosed: () => hungUp,
    end() {
      socket.end();
      raw.destroy();
    },
  };
}

/** nodemailer that refuses to send unless the server's STARTTLS succeeds (the certificate is self-signed). */
async function sendOverTls(port: number) {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    requireTLS: true,
    name: 'mx.sender.example',
    tls: { rejectUnauthorized: false, servername: 'localhost' },
    logger: false,
  });
  try {
    return await transport.sendMail({ envelope: env, raw: HAM });
  } finally {
    transport.close();
  }
}

async function openSessions(svc: TestService): Promise<number> {
  const { values } = await svc.app.metrics.smtpSessions.get();
  return values[0]?.value ?? 0;
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 3000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return condition();
}

/** A raw session for `use`, ended however `use` ends. */
async function withDialog(port: number, use: (c: Dialog) => Promise<void>): Promise<void> {
  const c = await dial(port);
  try {
    await use(c);
  } finally {
    c.end();
  }
}

describe('STARTTLS with a certificate configured', () => {
  let cert: TestCertificate;
  let svc: TestService;
  beforeAll(async () => {
    cert = await makeSelfSignedCertificate();
    svc = await startTestService({ config: { smtp: { tlsCert: cert.certPath, tlsKey: cert.keyPath } } });
  });
  afterAll(async () => {
    await svc?.stop();
    await cert?.remove();
  });

  it('advertises STARTTLS, presents the configured certificate, and forgets the plaintext EHLO after the upgrade', async () => {
    await withDialog(svc.smtpPort, async (c) => {
      expect(c.greeting).toMatch(/^220 /);
      const before = await c.command('EHLO client.example');
      expect(before).toMatch(/^250-/);
      expect(keywords(before)).toContain('STARTTLS');

      expect(await c.command('STARTTLS')).toMatch(/^220 /);
      const secure = await c.startTls();
      expect(secure.encrypted).toBe(true);
      expect(secure.getPeerX509Certificate()?.fingerprint256).toBe(cert.fingerprint256);

      // RFC 3207 4.2: the state of the plaintext session is discarded; the client must EHLO again.
      expect(await c.command('MAIL FROM:<alice@example.org>')).toMatch(/^503 /);
      const after = await c.command('EHLO client.example');
      expect(after).toMatch(/^250-/);
      // Not offered twice (RFC 3207 4.2), and a second STARTTLS is a sequence error.
      expect(keywords(after)).not.toContain('STARTTLS');
      expect(await c.command('STARTTLS')).toMatch(/^503 /);
      expect(await c.command('QUIT')).toMatch(/^221 /);
    });
  });

  it('filters a message sent over TLS like any other: it reaches the next hop tagged and is logged', async () => {
    svc.sink.messages.length = 0;
    const info = await sendOverTls(svc.smtpPort);
    expect(info.response).toMatch(/^250 /);

    const { id } = expectPassedIntact(svc.sink, HAM);
    await svc.app.storage.messages.flush();
    const row = (await svc.app.storage.messages.list({ limit: 50 })).items.find((m) => m.id === id);
    expect(row).toMatchObject({
      action: 'pass',
      status: 'delivered',
      mailFrom: 'alice@example.org',
      // the EHLO given inside the TLS session
      clientHelo: 'mx.sender.example',
    });
  });

  it('drops a client that answers "220 Ready to start TLS" with plaintext, and keeps serving the next one', async () => {
    const c = await dial(svc.smtpPort);
    expect(await c.command('EHLO confused.example')).toMatch(/^250-/);
    expect(await c.command('STARTTLS')).toMatch(/^220 /);
    const sentAt = Date.now();
    c.write('MAIL FROM:<mallory@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n');
    await Promise.race([c.closed, new Promise((r) => setTimeout(r, 4000))]);
    try {
      expect(c.isClosed()).toBe(true);
      // Cut at the failed handshake, not left to the idle timeout (60 s by default).
      expect(Date.now() - sentAt).toBeLessThan(2000);
    } finally {
      c.end();
    }
    // Its session slot is given back...
    expect(await waitFor(async () => (await openSessions(svc)) === 0)).toBe(true);
    // ...nothing of what it wrote became mail...
    await svc.app.storage.messages.flush();
    const rows = (await svc.app.storage.messages.list({ limit: 50 })).items;
    expect(rows.filter((m) => m.mailFrom === 'mallory@example.org')).toEqual([]);
    // ...and the next client, plaintext or TLS, is served as usual.
    expect((await send(svc.smtpPort, env, HAM)).code).toBe(250);
    expect((await sendOverTls(svc.smtpPort)).response).toMatch(/^250 /);
  });
});

describe('STARTTLS without a certificate', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it('is neither advertised nor accepted (500, as for an unknown command), and the session carries on', async () => {
    await withDialog(svc.smtpPort, async (c) => {
      const ehlo = await c.command('EHLO client.example');
      expect(ehlo).toMatch(/^250-/);
      expect(keywords(ehlo)).not.toContain('STARTTLS');
      expect(await c.command('STARTTLS')).toMatch(/^500 /);
      // Still in plaintext and still usable: a mail transaction goes on as if nothing happened.
      expect(await c.command('MAIL FROM:<alice@example.org>')).toMatch(/^250 /);
      expect(await c.command('RCPT TO:<bob@example.net>')).toMatch(/^250 /);
      expect(await c.command('QUIT')).toMatch(/^221 /);
    });
  });

  it('makes a client that insists on TLS give up before sending anything', async () => {
    svc.sink.messages.length = 0;
    await expect(sendOverTls(svc.smtpPort)).rejects.toThrow(/STARTTLS|TLS/);
    expect(svc.sink.messages).toHaveLength(0);
  });
});

describe('relay.requireTls', () => {
  let svc: TestService;
  beforeAll(async () => {
    // The test sink is plaintext only: it never offers STARTTLS.
    svc = await startTestService({ config: { relay: { requireTls: true } } });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  const lastRow = async () => {
    await svc.app.storage.messages.flush();
    return (await svc.app.storage.messages.list({ limit: 1 })).items[0];
  };

  it('never hands mail to a next hop that does not offer STARTTLS, and never claims it delivered', async () => {
    svc.sink.messages.length = 0;
    const r = await send(svc.smtpPort, env, HAM);
    expect(r.ok).toBe(false);
    expect(r.code).toBeGreaterThanOrEqual(400);
    expect(svc.sink.messages).toHaveLength(0);
    expect(await lastRow()).toMatchObject({ mailFrom: 'alice@example.org' });
    expect((await lastRow())?.status).not.toBe('delivered');
  });

  // A next hop that cannot encrypt is our (configuration or network) problem, not the message's: nodemailer
  // sends STARTTLS anyway (requireTLS), the plain next hop answers 500, and upstream must still get a 451.
  it('answers 451 4.4.1 so the sender retries later, and logs the message deferred, not bounced', async () => {
    svc.sink.messages.length = 0;
    const r = await send(svc.smtpPort, env, HAM);
    expect(r.response).toMatch(/^451 4\.4\.1 /);
    expect(svc.sink.messages).toHaveLength(0);
    expect(await lastRow()).toMatchObject({ mailFrom: 'alice@example.org', status: 'deferred' });
  });
});
