/**
 * MailSentra behind a real Postfix, wired exactly as `config/postfix/` (and docs/integration.md) tells administrators:
 * after-queue `content_filter` with a re-injection listener, and before-queue `smtpd_proxy_filter`. A message
 * submitted to Postfix reaches the next hop only through MailSentra, with its headers; spam is quarantined.
 * Postfix must be installed (`.ci/run` installs it): a missing Postfix fails this test, it never skips.
 */
import { access, constants } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSpamAssassin } from '../../src/classifier/corpus.js';
import { POSTFIX, type PostfixInstance, type PostfixMode, startPostfix } from '../helpers/postfix.js';
import { freePort } from '../helpers/redis.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { type Sink, startSink } from '../helpers/sink.js';
import { send } from '../helpers/smtp-client.js';

const corpus = loadSpamAssassin('test');
const crlf = (b: Buffer) => Buffer.from(b.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
const HAM = crlf(corpus.find((m) => m.label === 'ham' && m.raw.length < 4000)!.raw);
const SPAM = crlf(corpus.find((m) => m.label === 'spam' && m.raw.length < 6000)!.raw);

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each<PostfixMode>(['after-queue', 'before-queue'])(
  'Postfix with MailSentra as %s filter',
  (mode) => {
    let sink: Sink;
    let svc: TestService;
    let postfix: PostfixInstance;

    beforeAll(async () => {
      await access(POSTFIX, constants.X_OK).catch(() => {
        throw new Error(`${POSTFIX} is missing: install Debian's postfix package (.ci/run does)`);
      });
      if (process.getuid?.() !== 0) throw new Error('starting a real Postfix needs root (CI runs as root)');
      sink = await startSink();
      const reinjectPort = await freePort();
      svc = await startTestService({ sink, config: { relay: { to: `127.0.0.1:${reinjectPort}` } } });
      postfix = await startPostfix({
        mode,
        smtpdPort: await freePort(),
        filterPort: svc.smtpPort,
        reinjectPort,
        nextHopPort: sink.port,
      });
    }, 60_000);

    afterAll(async () => {
      await postfix?.stop();
      await svc?.stop();
    });

    it('delivers ham submitted to Postfix at the next hop through MailSentra, tagged, with the client known', async () => {
      const r = await send(postfix.port, { from: 'alice@example.org', to: ['bob@example.net'] }, HAM, {
        helo: 'client.example.org',
      });
      expect(r.code, r.response).toBe(250);
      const got = await until('the ham at the next hop', () =>
        sink.messages.find((m) => m.rcptTo.includes('bob@example.net')),
      );
      const text = got.raw.toString('latin1');
      expect(got.mailFrom).toBe('alice@example.org');
      expect(text).toMatch(/^X-Spam-Flag: NO\r\n/m);
      // Postfix received it (its Received header) and handed it on through MailSentra (its headers).
      expect(text).toMatch(/Received: from client\.example\.org/);
      const id = /X-MailSentra-Id: (\S+)/.exec(text)?.[1];
      expect(id).toBeDefined();
      await svc.app.storage.messages.flush();
      const row = (await svc.app.storage.messages.list({ limit: 50 })).items.find((m) => m.id === id);
      // XFORWARD from Postfix tells MailSentra who the real client was, not Postfix itself.
      expect(row).toMatchObject({ action: 'pass', status: 'delivered', clientHelo: 'client.example.org' });
      expect(row?.clientIp).toBe('127.0.0.1');
    });

    it('quarantines spam: held in MailSentra, never at the next hop', async () => {
      const r = await send(postfix.port, { from: 'spammer@example.com', to: ['carol@example.net'] }, SPAM, {
        helo: 'spam.example.com',
      });
      expect(r.code, r.response).toBe(250);
      // Before the queue, MailSentra's own answer reaches the client through Postfix.
      if (mode === 'before-queue') expect(r.response).toContain('quarantine');
      const held = await until('the spam in quarantine', async () => {
        const page = await svc.app.storage.quarantine.list({ state: 'held', recipient: 'carol@example.net' });
        return page.items[0];
      });
      expect(held.mailFrom).toBe('spammer@example.com');
      if (mode === 'after-queue') {
        // Postfix records the hand-off to MailSentra as delivered, so it will not retry it.
        await until('postfix to log the hand-off', async () =>
          /to=<carol@example\.net>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+.*status=sent/.test(
            await postfix.log(),
          )
            ? true
            : undefined,
        );
      }
      expect(sink.messages.some((m) => m.rcptTo.includes('carol@example.net'))).toBe(false);
    });
  },
);
