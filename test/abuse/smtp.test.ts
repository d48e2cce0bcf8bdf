/**
 * Abuse of the SMTP listener over real sockets: connection floods, slow clients, junk commands, recipient
 * bombs. Where the client must misbehave it is a raw `node:net` socket. Bounds carry slack: two cores, and
 * other test files run at the same time.
 */
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeepPartial } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { startTestService, type TestService } from '../helpers/service.js';

/** A raw SMTP client: reads whole replies, writes what it is told, and notices when the server hangs up. */
interface Peer {
  socket: net.Socket;
  /** The next complete reply (multi-line replies joined), or null if the connection closed first. */
  reply(): Promise<string | null>;
  /** Writes `line` + CRLF and waits for its reply. */
  command(line: string): Promise<string | null>;
  /** Resolves when the connection is closed, with the time it closed (Date.now()). */
  closed: Promise<number>;
}

function connect(port: number): Peer {
  const socket = net.connect(port, '127.0.0.1');
  const replies: string[] = [];
  const waiting: ((r: string | null) => void)[] = [];
  let buffer = '';
  let isClosed = false;
  socket.on('data', (d) => {
    buffer += d.toString('latin1');
    for (;;) {
      const m = /^((?:\d{3}-[^\r\n]*\r\n)*\d{3} [^\r\n]*\r\n)/.exec(buffer);
      if (!m) break;
      buffer = buffer.slice((m[1] as string).length);
      const r = (m[1] as string).trim();
      const w = waiting.shift();
      if (w) w(r);
      else replies.push(r);
    }
  });
  socket.on('error', () => {
    // a reset shows up as 'close' too
  });
  const closed = new Promise<number>((resolve) =>
    socket.on('close', () => {
      isClosed = true;
      for (const w of waiting.splice(0)) w(null);
      resolve(Date.now());
    }),
  );
  const reply = () => {
    const r = replies.shift();
    if (r !== undefined) return Promise.resolve(r);
    if (isClosed) return Promise.resolve(null);
    return new Promise<string | null>((resolve) => waiting.push(resolve));
  };
  return {
    socket,
    reply,
    command(line) {
      socket.write(`${line}\r\n`);
      return reply();
    },
    closed,
  };
}

/** Connects and waits for the greeting. */
async function open(port: number): Promise<Peer & { greeting: string | null }> {
  const peer = connect(port);
  return Object.assign(peer, { greeting: await peer.reply() });
}

/** Writes one byte a second from `text` until the connection closes (what a slowloris client does). */
function trickle(peer: Peer, text: string): void {
  let i = 0;
  const timer = setInterval(() => {
    if (peer.socket.destroyed || !peer.socket.writable || i >= text.length) return;
    peer.socket.write(text.charAt(i++));
  }, 1000);
  void peer.closed.then(() => clearInterval(timer));
}

const message = (token: string) =>
  `From: alice@example.org\r\nTo: bob@example.net\r\nSubject: ${token}\r\n\r\nHello Bob, see you at lunch. ${token}\r\n`;

/** One whole transaction on an open session; resolves with the reply to the final dot. */
async function transaction(peer: Peer, token: string): Promise<string | null> {
  expect(await peer.command('EHLO client.example')).toMatch(/^250[- ]/);
  expect(await peer.command('MAIL FROM:<alice@example.org>')).toMatch(/^250 /);
  expect(await peer.command('RCPT TO:<bob@example.net>')).toMatch(/^250 /);
  expect(await peer.command('DATA')).toMatch(/^354 /);
  return peer.command(`${message(token)}.`);
}

const delivered = (svc: TestService, token: string) =>
  svc.sink.messages.filter((m) => m.raw.toString('latin1').includes(token));

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * Ends the sessions a test left open with QUIT, so the server has let go of them (it drops a session from its
 * count before it answers 221) before the next test counts slots; whoever does not answer is cut.
 */
async function release(peers: Peer[]): Promise<void> {
  await Promise.all(
    peers.splice(0).map(async (p) => {
      if (!p.socket.destroyed && p.socket.writable) p.socket.write('QUIT\r\n');
      const cut = setTimeout(() => p.socket.destroy(), 2000);
      await p.closed;
      clearTimeout(cut);
    }),
  );
}

/**
 * The service of one describe block, with every message reaching the sink whatever its score (these tests are
 * about the listener, not the verdict). The peers a test tracks are released after it, and the sink emptied.
 */
function listenerUnderTest(smtp: DeepPartial<Config['smtp']>) {
  let svc: TestService | null = null;
  const peers: Peer[] = [];
  beforeAll(async () => {
    svc = await startTestService({
      config: { smtp, policy: { thresholds: { quarantine: null, reject: null } } },
    });
  });
  afterAll(async () => {
    await svc?.stop();
  });
  afterEach(async () => {
    await release(peers);
    if (svc) svc.sink.messages.length = 0;
  });
  return {
    get svc(): TestService {
      if (!svc) throw new Error('the service did not start');
      return svc;
    },
    track<P extends Peer>(p: P): P {
      peers.push(p);
      return p;
    },
  };
}

describe('SMTP limits against abusive clients', () => {
  const listener = listenerUnderTest({ maxSessions: 3, maxRecipients: 5 });
  const { track } = listener;

  it('refuses connections beyond smtp.maxSessions with 421 and hangs up, while the sessions it holds keep working', async () => {
    const max = listener.svc.config.smtp.maxSessions;
    const held = await Promise.all(range(max).map(() => open(listener.svc.smtpPort).then(track)));
    for (const h of held) expect(h.greeting).toMatch(/^220 /);

    const started = Date.now();
    const flood = await Promise.all(
      range(12).map(async () => {
        const p = track(connect(listener.svc.smtpPort));
        return { reply: await p.reply(), closedAt: await p.closed };
      }),
    );
    for (const f of flood) {
      expect(f.reply).toMatch(/^421 4\.7\.0 Too many connections/);
      // closed by the server: this client never hangs up by itself
      expect(f.closedAt - started).toBeLessThan(5000);
    }

    // The sessions that were in first never noticed.
    for (const [i, h] of held.entries()) expect(await transaction(h, `held-${i}`)).toMatch(/^250 /);
    for (const i of range(max)) expect(delivered(listener.svc, `held-${i}`)).toHaveLength(1);

    // Once they are gone, the full capacity is back: the refused connections hold no slot.
    for (const h of held) {
      expect(await h.command('QUIT')).toMatch(/^221 /);
      await h.closed;
    }
    const again = await Promise.all(range(max).map(() => open(listener.svc.smtpPort).then(track)));
    for (const a of again) expect(a.greeting).toMatch(/^220 /);
    expect(await transaction(again[0]!, 'after-flood')).toMatch(/^250 /);
    expect(delivered(listener.svc, 'after-flood')).toHaveLength(1);
  }, 10_000);

  it('answers each unrecognised command 500, and the tenth with 421 and a hang-up', async () => {
    // smtp-server counts these itself, with a fixed limit of 10 (it has no option for it).
    const limit = 10;
    const p = track(await open(listener.svc.smtpPort));
    expect(p.greeting).toMatch(/^220 /);
    for (const i of range(limit - 1)) expect(await p.command(`XYZZY ${i}`)).toMatch(/^500 /);
    const last = Date.now();
    expect(await p.command('XYZZY again')).toMatch(/^421 .*too many unrecognized commands/);
    expect((await p.closed) - last).toBeLessThan(3000);
  }, 10_000);

  it('counts unrecognised commands over the session: valid commands in between do not reset the count', async () => {
    const limit = 10;
    const p = track(await open(listener.svc.smtpPort));
    expect(p.greeting).toMatch(/^220 /);
    expect(await p.command('EHLO client.example')).toMatch(/^250[- ]/);
    for (const i of range(limit - 1)) {
      expect(await p.command(`GARBAGE ${i}`)).toMatch(/^500 /);
      expect(await p.command('NOOP')).toMatch(/^250 /);
    }
    expect(await p.command('GARBAGE')).toMatch(/^421 /);
    await p.closed;
    expect(await p.reply()).toBeNull();
  }, 10_000);

  it('answers 452 4.5.3 past smtp.maxRecipients and delivers the message to the recipients it took', async () => {
    const max = listener.svc.config.smtp.maxRecipients;
    const rcpts = range(max + 2).map((i) => `r${i}@example.net`);
    const p = track(await open(listener.svc.smtpPort));
    expect(p.greeting).toMatch(/^220 /);
    expect(await p.command('EHLO client.example')).toMatch(/^250[- ]/);
    expect(await p.command('MAIL FROM:<alice@example.org>')).toMatch(/^250 /);
    const answers: (string | null)[] = [];
    for (const r of rcpts) answers.push(await p.command(`RCPT TO:<${r}>`));
    expect(answers.slice(0, max).every((a) => a?.startsWith('250 '))).toBe(true);
    for (const a of answers.slice(max)) expect(a).toMatch(/^452 4\.5\.3 /);
    expect(await p.command('DATA')).toMatch(/^354 /);
    expect(await p.command(`${message('many-rcpts')}.`)).toMatch(/^250 /);
    expect(delivered(listener.svc, 'many-rcpts').map((m) => m.rcptTo)).toEqual([rcpts.slice(0, max)]);

    // The limit is per message: the next transaction in the same session gets the full allowance again.
    expect(await p.command('MAIL FROM:<alice@example.org>')).toMatch(/^250 /);
    for (const r of rcpts.slice(max - 1)) expect(await p.command(`RCPT TO:<${r}>`)).toMatch(/^250 /);
    expect(await p.command('QUIT')).toMatch(/^221 /);
  }, 10_000);
});

describe('SMTP against slow clients', () => {
  const IDLE_MS = 1500;
  const SESSION_MS = 3000;
  const listener = listenerUnderTest({ idleTimeoutMs: IDLE_MS, sessionTimeoutMs: SESSION_MS });
  const start = async () => {
    const startedAt = Date.now();
    const p = listener.track(await open(listener.svc.smtpPort));
    expect(p.greeting).toMatch(/^220 /);
    return Object.assign(p, { startedAt });
  };

  it('times out a client that goes quiet in the middle of a command line after smtp.idleTimeoutMs: 421, hang-up', async () => {
    const p = await start();
    expect(await p.command('EHLO client.example')).toMatch(/^250[- ]/);
    p.socket.write('MAIL FROM:<stalled@exam');
    const stalledAt = Date.now();
    expect(await p.reply()).toMatch(/^421 .*Timeout/);
    const elapsed = (await p.closed) - stalledAt;
    expect(elapsed).toBeGreaterThanOrEqual(IDLE_MS - 100);
    expect(elapsed).toBeLessThan(IDLE_MS + 4000);
  }, 10_000);

  it('cuts a client trickling a command line a byte a second at smtp.sessionTimeoutMs, though each byte resets the idle timer', async () => {
    const p = await start();
    trickle(p, 'EHLO a-client-that-takes-its-time.example\r\n');
    // Not the idle timeout (it never fires: a byte a second is faster), the session deadline.
    expect(await p.reply()).toMatch(/^421 4\.4\.2 .*Session time limit/);
    const elapsed = (await p.closed) - p.startedAt;
    expect(elapsed).toBeGreaterThanOrEqual(SESSION_MS - 100);
    expect(elapsed).toBeLessThan(SESSION_MS + 4000);
  }, 10_000);

  it('cuts a client trickling its message a byte a second in DATA, and the message is not delivered', async () => {
    const p = await start();
    expect(await p.command('EHLO client.example')).toMatch(/^250[- ]/);
    expect(await p.command('MAIL FROM:<alice@example.org>')).toMatch(/^250 /);
    expect(await p.command('RCPT TO:<bob@example.net>')).toMatch(/^250 /);
    expect(await p.command('DATA')).toMatch(/^354 /);
    trickle(p, `${message('slowloris')}.\r\n`);
    expect(await p.reply()).toMatch(/^421 4\.4\.2 /);
    const elapsed = (await p.closed) - p.startedAt;
    expect(elapsed).toBeGreaterThanOrEqual(SESSION_MS - 100);
    expect(elapsed).toBeLessThan(SESSION_MS + 4000);
    // Whatever had arrived was dropped, not relayed half-written: a message sent after it is the only one
    // the next hop sees (its 250 comes once it is relayed).
    const q = await start();
    expect(await transaction(q, 'after-slowloris')).toMatch(/^250 /);
    expect(listener.svc.sink.messages).toHaveLength(1);
    expect(delivered(listener.svc, 'after-slowloris')).toHaveLength(1);
  }, 10_000);

  it('lets a normal session through that finishes well within the limits', async () => {
    const p = await start();
    expect(await transaction(p, 'prompt')).toMatch(/^250 /);
    expect(delivered(listener.svc, 'prompt')).toHaveLength(1);
  }, 10_000);
});
