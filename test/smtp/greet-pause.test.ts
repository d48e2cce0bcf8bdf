import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.js';

/** Connects and talks at once, before any greeting: what an early talker (or a pipelining MTA) does. */
function talkImmediately(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write('EHLO client.example\r\nQUIT\r\n'));
    socket.on('data', (d) => {
      out += d.toString();
    });
    socket.on('close', () => resolve(out));
    socket.on('error', (e) => (out ? resolve(out) : reject(e)));
  });
}

// smtp-server holds new sessions 100 ms and refuses clients that talk during it (421). MailSentra skips the
// pause for trusted forwarders; this checks the behaviour rather than timing it.
describe('greeting pause', () => {
  let trusted: TestService;
  let untrusted: TestService;
  beforeAll(async () => {
    trusted = await startTestService();
    // Loopback may connect, but is not a trusted forwarder here: the early-talker pause applies.
    untrusted = await startTestService({ config: { smtp: { trustedForwarders: ['192.0.2.0/24'] } } });
  });
  afterAll(async () => {
    await trusted.stop();
    await untrusted.stop();
  });

  it('greets a trusted forwarder at once, so its first command is answered', async () => {
    const out = await talkImmediately(trusted.smtpPort);
    expect(out).toMatch(/^220 /);
    expect(out).toMatch(/\r\n250[- ]/);
    expect(out).toMatch(/\r\n221 /);
  });

  it('keeps the early-talker check for other clients', async () => {
    const out = await talkImmediately(untrusted.smtpPort);
    expect(out).toMatch(/^421 /);
    expect(out).not.toMatch(/250[- ]/);
  });
});
