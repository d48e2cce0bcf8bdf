/**
 * A reloaded policy (app.reloadPolicy, what SIGHUP applies) decides the next message, and the console's lists
 * page shows the lists of the policy in force, not those the service started with.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleCookie } from '../helpers/api.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { send } from '../helpers/smtp-client.js';

const ADMIN = 'policy-reload-admin-key-0123456789';
const mail = (from: string) =>
  `From: ${from}\r\nTo: b@example.net\r\nSubject: numbers\r\n\r\nHere are the numbers we discussed.\r\n`;

describe('a reloaded policy', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ config: { api: { adminApiKey: ADMIN }, cache: { enabled: false } } });
  }, 60_000);
  afterAll(async () => {
    await svc?.stop();
  });

  it('decides the next message and is the one the console shows', async () => {
    const from = 'sender@reloaded.example';
    const deliver = () => send(svc.smtpPort, { from, to: ['b@example.net'] }, mail(from));
    expect((await deliver()).code).toBe(250);
    expect(svc.sink.messages).toHaveLength(1);

    svc.app.reloadPolicy({ ...svc.app.policy.settings, blockSenders: ['@reloaded.example'] });
    expect((await deliver()).code).toBe(250);
    expect(svc.sink.messages).toHaveLength(1);
    const held = await svc.app.storage.quarantine.list({ sender: from });
    expect(held.items.map((h) => h.reason)).toEqual(['sender matches block list entry @reloaded.example']);

    const api = svc.app.api!;
    const cookie = await consoleCookie(api, ADMIN);
    const page = await api.inject({ url: '/ui/lists', headers: { cookie } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('@reloaded.example');
  }, 60_000);
});
