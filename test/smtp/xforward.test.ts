import { afterEach, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.js';
import { rawSession } from '../helpers/smtp-client.js';

const session = (port: number) =>
  rawSession(port, [
    'EHLO postfix.example\r\n',
    'XFORWARD ADDR=203.0.113.5 HELO=mx.origin.example\r\n',
    'MAIL FROM:<a@example.org>\r\n',
    'RCPT TO:<b@example.net>\r\n',
    'DATA\r\n',
    'Subject: forwarded\r\n\r\nhello\r\n.\r\n',
    'QUIT\r\n',
  ]);

describe('XFORWARD (Postfix tells a content filter who the real client was)', () => {
  let svc: TestService;
  afterEach(async () => {
    await svc.stop();
  });

  it('records the forwarded client address and HELO when the forwarder is trusted', async () => {
    svc = await startTestService();
    const replies = await session(svc.smtpPort);
    expect(replies[6]).toMatch(/^250 /);
    await svc.app.storage.messages.flush();
    const [row] = (await svc.app.storage.messages.list({ limit: 1 })).items;
    expect(row).toMatchObject({ clientIp: '203.0.113.5', clientHelo: 'mx.origin.example' });
  });

  it('ignores the attributes of a client that is not a trusted forwarder', async () => {
    svc = await startTestService({ config: { smtp: { trustedForwarders: ['192.0.2.0/24'] } } });
    const replies = await session(svc.smtpPort);
    expect(replies.at(-2)).toMatch(/^250 /);
    await svc.app.storage.messages.flush();
    const [row] = (await svc.app.storage.messages.list({ limit: 1 })).items;
    expect(row?.clientIp).toMatch(/127\.0\.0\.1$/);
  });
});
