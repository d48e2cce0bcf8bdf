/**
 * MailSentra as a milter of a real Postfix, wired exactly as `config/postfix/main.cf.milter` and
 * `master.cf.milter` say (only the ports changed): smtpd_milters for mail received over SMTP,
 * non_smtpd_milters for mail submitted with sendmail. Postfix keeps the queue and delivers to the next hop;
 * MailSentra decides. Postfix must be installed and the test run as root (.ci/run): it never skips.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostfixWorld, postfixSamples, startPostfixWorld, waitForPostfix } from '../helpers/postfix.js';
import { send } from '../helpers/smtp-client.js';

const { ham: HAM, spam: SPAM } = postfixSamples();
const ADMIN = 'admin-key-for-the-milter-test-0123';

describe('Postfix with MailSentra as its milter', () => {
  let world: PostfixWorld;

  beforeAll(async () => {
    world = await startPostfixWorld('milter', {
      smtp: { listen: 'off' },
      milter: { listen: '127.0.0.1:0' },
      api: { adminApiKey: ADMIN },
      policy: { domains: { 'tagged.example': { quarantine: null }, 'strict.example': { reject: 0.9 } } },
    });
  }, 60_000);

  afterAll(async () => {
    await world?.stop();
  });

  const app = () => world.service().app;
  /** The spam sent through Postfix from spammer@example.com to `to`; its SMTP reply. */
  const spamTo = (to: string[]) => send(world.postfix.port, { from: 'spammer@example.com', to }, SPAM);
  async function logged(sessionId: string) {
    await app().storage.messages.flush();
    return (await app().storage.messages.list({ limit: 100 })).items.find((m) => m.sessionId === sessionId);
  }
  const atSink = (rcpt: string) =>
    waitForPostfix(`mail for ${rcpt} at the next hop`, () =>
      world.sink.messages.find((m) => m.rcptTo.includes(rcpt)),
    );

  it('delivers ham with our headers; the verdict log has the client and Postfix queue id', async () => {
    const r = await send(world.postfix.port, { from: 'alice@example.org', to: ['bob@example.net'] }, HAM, {
      helo: 'client.example.org',
    });
    expect(r.code, r.response).toBe(250);
    const got = await atSink('bob@example.net');
    const text = got.raw.toString('latin1');
    expect(text).toMatch(/^X-Spam-Flag: NO\r\n/m);
    expect(text).toMatch(/^X-Spam-Status: No, score=/m);
    const id = /X-MailSentra-Id: (\S+)/.exec(text)?.[1];
    const queueId = /queued as (\w+)/.exec(r.response)?.[1] as string;
    const row = await logged(queueId);
    expect(row).toMatchObject({
      id,
      action: 'pass',
      clientIp: '127.0.0.1',
      clientHelo: 'client.example.org',
    });
  });

  it('tags spam for a domain that does not quarantine: X-Spam-Flag YES and the subject prefix', async () => {
    const r = await spamTo(['gina@tagged.example']);
    expect(r.code, r.response).toBe(250);
    const text = (await atSink('gina@tagged.example')).raw.toString('latin1');
    expect(text).toMatch(/^X-Spam-Flag: YES\r\n/m);
    expect(text).toMatch(/^Subject: \[SPAM\] /m);
  });

  it('quarantines spam (never at the next hop) and releases it through the API to the original recipient', async () => {
    const r = await spamTo(['carol@example.net']);
    expect(r.code, r.response).toBe(250);
    const held = await waitForPostfix('the spam in quarantine', async () => {
      const page = await app().storage.quarantine.list({ state: 'held', recipient: 'carol@example.net' });
      return page.items[0];
    });
    // Postfix discarded its copy at MailSentra's word.
    await waitForPostfix('postfix to log the discard', async () =>
      /milter-discard/.test(await world.postfix.log()) ? true : undefined,
    );
    expect(world.sink.messages.some((m) => m.rcptTo.includes('carol@example.net'))).toBe(false);
    const res = await fetch(
      `http://127.0.0.1:${world.service().apiPort}/api/v1/quarantine/${held.id}/release`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}` },
      },
    );
    expect(res.status).toBe(200);
    const got = await atSink('carol@example.net');
    expect(got.rcptTo).toEqual(['carol@example.net']);
    expect(got.mailFrom).toBe('spammer@example.com');
  });

  it('rejects with our 550 5.7.1 text and the log reference', async () => {
    const r = await spamTo(['dan@strict.example']);
    expect(r.code).toBe(550);
    expect(r.response).toMatch(/5\.7\.1 Message rejected as spam \(score [01]\.\d{3}, ref [0-9a-f-]{36}\)/);
  });

  it('gives two recipients with different policies each their own outcome', async () => {
    const r = await spamTo(['hank@example.net', 'ivy@tagged.example']);
    expect(r.code, r.response).toBe(250);
    const got = await atSink('ivy@tagged.example');
    expect(got.rcptTo).toEqual(['ivy@tagged.example']);
    expect(got.raw.toString('latin1')).toMatch(/^X-Spam-Flag: YES\r\n/m);
    const held = await app().storage.quarantine.list({ state: 'held' });
    expect(held.items.map((q) => q.recipient)).toContain('hank@example.net');
    expect(held.items.map((q) => q.recipient)).not.toContain('ivy@tagged.example');
    expect(world.sink.messages.some((m) => m.rcptTo.includes('hank@example.net'))).toBe(false);
  });

  it('scans mail submitted locally with sendmail (non_smtpd_milters)', async () => {
    await new Promise<void>((resolve, reject) => {
      const child = execFile(
        '/usr/sbin/sendmail',
        ['-C', world.postfix.conf, '-f', 'local@example.org', 'jack@example.net'],
        (err) => (err ? reject(err) : resolve()),
      );
      child.stdin?.end(HAM);
    });
    const text = (await atSink('jack@example.net')).raw.toString('latin1');
    expect(text).toMatch(/^X-Spam-Flag: NO\r\n/m);
    expect(text).toMatch(/^X-MailSentra-Id: /m);
  });

  it('with MailSentra down, Postfix applies milter_default_action (tempfail): 4xx, nothing delivered', async () => {
    await world.stopService();
    const before = world.sink.messages.length;
    const r = await send(world.postfix.port, { from: 'alice@example.org', to: ['kate@example.net'] }, HAM);
    expect(r.code, r.response).toBeGreaterThanOrEqual(400);
    expect(r.code, r.response).toBeLessThan(500);
    expect(r.response).toMatch(/4\.\d\.\d/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(world.sink.messages.length).toBe(before);
  });
});
