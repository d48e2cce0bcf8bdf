import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './helpers/service.js';
import { send } from './helpers/smtp-client.js';

describe('the whole service', () => {
  let svc: TestService;
  const adminKey = 'test-admin-key-0123456789abcdef-0123456789';
  beforeAll(async () => {
    svc = await startTestService({ config: { api: { adminApiKey: adminKey } } });
  });
  afterAll(async () => {
    await svc.stop();
  });

  const http = (path: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${svc.apiPort}${path}`, init);

  it('serves health, readiness and metrics that count the mail it relays', async () => {
    expect((await http('/health')).status).toBe(200);
    expect((await http('/ready')).status).toBe(200);
    const r = await send(
      svc.smtpPort,
      { from: 'a@example.org', to: ['b@example.net'] },
      'Subject: hi\r\n\r\nlunch at noon?\r\n',
    );
    expect(r.code).toBe(250);
    const metrics = await (await http('/metrics')).text();
    expect(metrics).toMatch(/^mailsentra_messages_total\{action="pass"\} 1$/m);
    expect(metrics).toMatch(/^mailsentra_relay_total\{result="ok"\} 1$/m);
    expect(metrics).toMatch(/^mailsentra_model_info\{version="[^"]+"\} 1$/m);
  });

  it('finds the relayed message through the API with the bootstrap admin key', async () => {
    await svc.app.storage.messages.flush();
    const res = await http('/api/v1/messages?sender=a@example.org', {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { items: { mailFrom: string; status: string }[] };
    expect(body.items[0]).toMatchObject({ mailFrom: 'a@example.org', status: 'delivered' });
    expect((await http('/api/v1/messages')).status).toBe(401);
    // Who else got this content: every delivery of the same normalised bytes.
    const { contentHash } = body.items[0] as unknown as { contentHash: string };
    const same = await http(`/api/v1/messages?contentHash=${contentHash}`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    expect(((await same.json()) as { items: unknown[] }).items).toHaveLength(1);
    const bad = await http('/api/v1/messages?contentHash=nothex', {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    expect(bad.status).toBe(400);
    const id = (body.items[0] as unknown as { id: string }).id;
    const raw = await http(`/api/v1/messages/${id}/raw`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    expect(raw.headers.get('content-type')).toContain('message/rfc822');
    expect(await raw.text()).toBe('Subject: hi\r\n\r\nlunch at noon?\r\n');
  });
});
