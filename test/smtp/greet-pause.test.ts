import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.js';

function greetingDelay(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect(port, '127.0.0.1');
    socket.once('data', (d) => {
      expect(d.toString()).toMatch(/^220 /);
      socket.end('QUIT\r\n');
      resolve(performance.now() - started);
    });
    socket.once('error', reject);
  });
}

describe('greeting pause', () => {
  let trusted: TestService;
  let untrusted: TestService;
  beforeAll(async () => {
    trusted = await startTestService();
    // Loopback allowed to connect, but not a trusted forwarder: smtp-server's early-talker pause applies.
    untrusted = await startTestService({ config: { smtp: { trustedForwarders: ['192.0.2.0/24'] } } });
  });
  afterAll(async () => {
    await trusted.stop();
    await untrusted.stop();
  });

  it('greets a trusted forwarder at once and keeps the 100 ms early-talker pause for others', async () => {
    const fast = Math.min(...(await Promise.all([1, 2, 3].map(() => greetingDelay(trusted.smtpPort)))));
    const slow = Math.min(...(await Promise.all([1, 2, 3].map(() => greetingDelay(untrusted.smtpPort)))));
    expect(fast).toBeLessThan(50);
    expect(slow).toBeGreaterThanOrEqual(95);
  });
});
