/**
 * The next hop failing in each way a real MTA fails: the upstream gets the code that makes it do the right
 * thing (retry on 4xx, bounce on 5xx), and the verdict log records what happened.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.js';
import { send } from '../helpers/smtp-client.js';

const HAM = 'From: a@example.org\r\nTo: b@example.net\r\nSubject: lunch\r\n\r\nLunch at noon tomorrow?\r\n';
const env = { from: 'a@example.org', to: ['b@example.net'] };

async function statusOf(svc: TestService): Promise<string | undefined> {
  await svc.app.storage.messages.flush();
  return (await svc.app.storage.messages.list({ limit: 1 })).items[0]?.status;
}

/** A next hop that speaks just enough SMTP to take DATA, then drops the connection mid-message. */
async function droppingNextHop(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((s) => {
    s.write('220 drop.example ESMTP\r\n');
    let inData = false;
    let buf = '';
    s.on('data', (d) => {
      if (inData) {
        s.destroy(); // the connection breaks in the middle of the message
        return;
      }
      buf += d.toString('latin1');
      let i = buf.indexOf('\r\n');
      while (i >= 0) {
        const line = buf.slice(0, i).toUpperCase();
        buf = buf.slice(i + 2);
        if (line.startsWith('EHLO') || line.startsWith('HELO')) s.write('250 drop.example\r\n');
        else if (line.startsWith('DATA')) {
          inData = true;
          s.write('354 go ahead\r\n');
        } else if (line.startsWith('QUIT')) s.end('221 bye\r\n');
        else s.write('250 ok\r\n');
        i = buf.indexOf('\r\n');
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('when the next hop fails', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ config: { relay: { timeoutMs: 1000 } } });
  });
  afterAll(async () => {
    await svc.stop();
  });

  it('answers 451 when it is slower than relay.timeoutMs, and logs the message deferred', async () => {
    svc.sink.behaviour = { kind: 'stall-ms', ms: 3000 };
    const r = await send(svc.smtpPort, env, HAM);
    expect(r.code).toBe(451);
    expect(r.response).toMatch(/4\.4\.\d/);
    expect(await statusOf(svc)).toBe('deferred');
    svc.sink.behaviour = { kind: 'accept' };
  });

  it('answers 451 for a 4xx and passes a 5xx through, logged deferred and bounced', async () => {
    svc.sink.behaviour = { kind: 'data-reply', code: 452, text: 'mailbox full, try later' };
    expect((await send(svc.smtpPort, env, HAM)).code).toBe(451);
    expect(await statusOf(svc)).toBe('deferred');
    svc.sink.behaviour = { kind: 'data-reply', code: 554, text: 'no such user here' };
    const r = await send(svc.smtpPort, env, HAM);
    expect(r.code).toBe(554);
    expect(r.response).toContain('no such user here');
    expect(await statusOf(svc)).toBe('bounced');
    svc.sink.behaviour = { kind: 'accept' };
  });

  it('answers 451 when the connection drops in the middle of DATA, never 250', async () => {
    const hop = await droppingNextHop();
    const dropping = await startTestService({
      config: { relay: { to: `127.0.0.1:${hop.port}`, timeoutMs: 2000 } },
    });
    try {
      const r = await send(dropping.smtpPort, env, HAM);
      expect(r.code).toBe(451);
      expect(await statusOf(dropping)).toBe('deferred');
      // The service is fine afterwards: the next message gets the same honest answer, not a crash.
      expect((await send(dropping.smtpPort, env, HAM)).code).toBe(451);
    } finally {
      await dropping.stop();
      await hop.close();
    }
  });
});
