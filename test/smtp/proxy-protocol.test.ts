import { afterEach, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.js';
import { rawSession } from '../helpers/smtp-client.js';

const steps = [
  'EHLO lb.example\r\n',
  'MAIL FROM:<a@example.org>\r\n',
  'RCPT TO:<b@example.net>\r\n',
  'DATA\r\n',
  'Subject: through a load balancer\r\n\r\nhello\r\n.\r\n',
  'QUIT\r\n',
];
const header = 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 25\r\n';

describe('PROXY protocol v1 from trusted load balancers (smtp.proxyProtocolFrom)', () => {
  let svc: TestService;
  afterEach(async () => {
    await svc.stop();
  });

  it('logs the client address the header reports, and checks it against allowNetworks', async () => {
    const smtp = { proxyProtocolFrom: ['127.0.0.0/8'], allowNetworks: ['198.51.100.0/24'] };
    svc = await startTestService({ config: { smtp } });
    const replies = await rawSession(svc.smtpPort, steps, 5000, header);
    expect(replies[0]).toMatch(/^220 /);
    expect(replies.at(-2)).toMatch(/^250 /);
    await svc.app.storage.messages.flush();
    const [row] = (await svc.app.storage.messages.list({ limit: 1 })).items;
    expect(row?.clientIp).toBe('198.51.100.7');
    const outside = await rawSession(
      svc.smtpPort,
      steps,
      5000,
      header.replace('198.51.100.7', '203.0.113.9'),
    );
    expect(outside).toEqual(['554 5.7.1 Client host not allowed']);
  });

  it('refuses a peer that is not a listed proxy, before any SMTP', async () => {
    svc = await startTestService({ config: { smtp: { proxyProtocolFrom: ['192.0.2.0/24'] } } });
    const replies = await rawSession(svc.smtpPort, steps, 5000, header);
    expect(replies).toEqual(['554 5.7.1 Client host not allowed']);
    await svc.app.storage.messages.flush();
    expect((await svc.app.storage.messages.list({ limit: 1 })).items).toHaveLength(0);
  });

  it('closes a listed proxy that sends no valid header', async () => {
    svc = await startTestService({ config: { smtp: { proxyProtocolFrom: ['127.0.0.0/8'] } } });
    const replies = await rawSession(svc.smtpPort, steps, 5000, 'EHLO direct.example\r\n');
    expect(replies.some((r) => r.startsWith('250'))).toBe(false);
  });
});
