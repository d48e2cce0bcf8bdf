/**
 * MailSentra behind a real Postfix, wired exactly as `config/postfix/` (and docs/integration.md) tells administrators:
 * after-queue `content_filter` with a re-injection listener, and before-queue `smtpd_proxy_filter`. A message
 * submitted to Postfix reaches the next hop only through MailSentra, with its headers; spam is quarantined.
 * Postfix must be installed (`.ci/run` installs it): a missing Postfix fails this test, it never skips.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PostfixMode,
  type PostfixWorld,
  postfixSamples,
  startPostfixWorld,
  waitForPostfix,
} from '../helpers/postfix.js';
import { send } from '../helpers/smtp-client.js';

const { ham: HAM, spam: SPAM } = postfixSamples();

describe.each<PostfixMode>(['after-queue', 'before-queue'])(
  'Postfix with MailSentra as %s filter',
  (mode) => {
    let world: PostfixWorld;

    beforeAll(async () => {
      world = await startPostfixWorld(mode);
    }, 60_000);

    afterAll(async () => {
      await world?.stop();
    });

    it('delivers ham submitted to Postfix at the next hop through MailSentra, tagged, with the client known', async () => {
      const r = await send(world.postfix.port, { from: 'alice@example.org', to: ['bob@example.net'] }, HAM, {
        helo: 'client.example.org',
      });
      expect(r.code, r.response).toBe(250);
      const got = await waitForPostfix('the ham at the next hop', () =>
        world.sink.messages.find((m) => m.rcptTo.includes('bob@example.net')),
      );
      const text = got.raw.toString('latin1');
      expect(got.mailFrom).toBe('alice@example.org');
      expect(text).toMatch(/^X-Spam-Flag: NO\r\n/m);
      // Postfix received it (its Received header) and handed it on through MailSentra (its headers).
      expect(text).toMatch(/Received: from client\.example\.org/);
      const id = /X-MailSentra-Id: (\S+)/.exec(text)?.[1];
      expect(id).toBeDefined();
      await world.service().app.storage.messages.flush();
      const row = (await world.service().app.storage.messages.list({ limit: 50 })).items.find(
        (m) => m.id === id,
      );
      // XFORWARD from Postfix tells MailSentra who the real client was, not Postfix itself.
      expect(row).toMatchObject({ action: 'pass', status: 'delivered', clientHelo: 'client.example.org' });
      expect(row?.clientIp).toBe('127.0.0.1');
    });

    it('quarantines spam: held in MailSentra, never at the next hop', async () => {
      const r = await send(
        world.postfix.port,
        { from: 'spammer@example.com', to: ['carol@example.net'] },
        SPAM,
        {
          helo: 'spam.example.com',
        },
      );
      expect(r.code, r.response).toBe(250);
      // Before the queue, MailSentra's own answer reaches the client through Postfix.
      if (mode === 'before-queue') expect(r.response).toContain('quarantine');
      const held = await waitForPostfix('the spam in quarantine', async () => {
        const page = await world
          .service()
          .app.storage.quarantine.list({ state: 'held', recipient: 'carol@example.net' });
        return page.items[0];
      });
      expect(held.mailFrom).toBe('spammer@example.com');
      if (mode === 'after-queue') {
        // Postfix records the hand-off to MailSentra as delivered, so it will not retry it.
        await waitForPostfix('postfix to log the hand-off', async () =>
          /to=<carol@example\.net>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+.*status=sent/.test(
            await world.postfix.log(),
          )
            ? true
            : undefined,
        );
      }
      expect(world.sink.messages.some((m) => m.rcptTo.includes('carol@example.net'))).toBe(false);
    });
  },
);
