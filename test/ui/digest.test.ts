/**
 * The quarantine digest end to end: held mail → a digest at the real next hop (text and HTML, Auto-Submitted,
 * only the recipient's own rows) → its release link followed in real Chromium without signing in → the
 * message delivered once. Tampered, expired and misdirected tokens are refused; a GET changes nothing.
 */
import { randomBytes } from 'node:crypto';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/digest/token.js';
import { type ConsoleUnderTest, startConsoleUnderTest } from '../helpers/browser.js';
import { send } from '../helpers/smtp-client.js';

const SIGNING_KEY = randomBytes(32).toString('base64url');
let ui: ConsoleUnderTest;

async function hold(to: string, subject: string) {
  const from = 'offers@held.example';
  const r = await send(
    ui.svc.smtpPort,
    { from, to: [to] },
    `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nBuy now.\r\n`,
  );
  expect(r.code).toBe(250);
}

const received = (subject: string) => ui.svc.sink.messages.filter((m) => m.raw.toString().includes(subject));

beforeAll(async () => {
  ui = await startConsoleUnderTest({
    policy: { blockSenders: ['@held.example'] },
    digest: { signingKey: SIGNING_KEY, from: 'digest@filter.example' },
  });
}, 120_000);

afterAll(async () => {
  await ui?.stop();
});

describe('quarantine digest', () => {
  const tag = randomBytes(4).toString('hex');
  let releaseLink = '';

  it('sends each recipient a digest of their own held mail through the relay', async () => {
    await hold('rita@rcpt.example', `For Rita ${tag}`);
    await hold('sam@rcpt.example', `For Sam ${tag}`);
    const before = ui.svc.sink.messages.length;
    await expect(ui.svc.app.digest?.runOnce()).resolves.toEqual({ sent: 2, failed: 0 });
    const digests = ui.svc.sink.messages.slice(before);
    const rita = digests.find((m) => m.rcptTo[0] === 'rita@rcpt.example');
    expect(rita?.mailFrom).toBe('digest@filter.example');
    const parsed = await simpleParser(rita?.raw ?? Buffer.alloc(0));
    expect(parsed.headers.get('auto-submitted')).toBe('auto-generated');
    expect(parsed.text).toContain(`For Rita ${tag}`);
    expect(parsed.text).not.toContain(`For Sam ${tag}`);
    expect(parsed.html).toContain(`For Rita ${tag}`);
    releaseLink = /Release: (\S+)/.exec(parsed.text ?? '')?.[1] ?? '';
    expect(releaseLink.startsWith(`${ui.base}/ui/d/`)).toBe(true);
    // Nothing new since: the next round sends nothing.
    await expect(ui.svc.app.digest?.runOnce()).resolves.toEqual({ sent: 0, failed: 0 });
    const metrics = await (await fetch(`${ui.base}/metrics`)).text();
    expect(metrics).toMatch(/mailsentra_digest_total\{result="sent"\} 2/);
  });

  it('a release link opens a confirmation (no sign-in); only the POST releases, once', async () => {
    // The released message itself, not the digest that names it.
    const delivered = () => received(`For Rita ${tag}`).filter((m) => m.mailFrom === 'offers@held.example');
    const page = await ui.browser.newPage();
    await page.goto(releaseLink);
    await expect(page.textContent('h1')).resolves.toBe('Release this message?');
    await ui.browser.shot(page, 'digest-confirm');
    // A link scanner's GET released nothing.
    expect(delivered()).toHaveLength(0);
    await Promise.all([page.waitForURL(releaseLink), page.click('button[type="submit"]')]);
    await expect(page.textContent('main')).resolves.toContain('Released');
    expect(delivered()).toHaveLength(1);
    // Again: the page says so, and a replayed POST is refused.
    await page.goto(releaseLink);
    await expect(page.textContent('main')).resolves.toContain('already released');
    const again = await page.request.post(releaseLink, { headers: { origin: ui.base } });
    expect(again.status()).toBe(409);
    expect(delivered()).toHaveLength(1);
    await page.close();
  });

  it('refuses tampered, expired and misdirected tokens', async () => {
    const page = await ui.browser.newPage();
    const token = releaseLink.slice(releaseLink.lastIndexOf('/') + 1);
    const [body, mac] = token.split('.') as [string, string];
    const flipped = `${body}.${mac.slice(0, -2)}${mac.endsWith('AA') ? 'BB' : 'AA'}`;
    const tampered = await page.goto(`${ui.base}/ui/d/${flipped}`);
    expect(tampered?.status()).toBe(403);
    await expect(page.textContent('main')).resolves.toContain('TOKEN_FORGED');

    const [samRow] = (await ui.svc.app.storage.quarantine.list({ recipient: 'sam@rcpt.example' })).items;
    const key = Buffer.from(SIGNING_KEY);
    const expired = signToken(key, {
      row: samRow?.id ?? '',
      to: 'sam@rcpt.example',
      act: 'release',
      exp: Math.floor(Date.now() / 1000) - 60,
    });
    const res = await page.goto(`${ui.base}/ui/d/${expired}`);
    expect(res?.status()).toBe(410);
    await expect(page.textContent('main')).resolves.toContain('TOKEN_EXPIRED');
    await ui.browser.shot(page, 'digest-expired');

    // Rita's validly signed token naming Sam's row: the row is bound to Sam.
    const misdirected = signToken(key, {
      row: samRow?.id ?? '',
      to: 'rita@rcpt.example',
      act: 'release',
      exp: Math.floor(Date.now() / 1000) + 600,
    });
    const post = await page.request.post(`${ui.base}/ui/d/${misdirected}`, { headers: { origin: ui.base } });
    expect(post.status()).toBe(404);
    const [after] = (await ui.svc.app.storage.quarantine.list({ recipient: 'sam@rcpt.example' })).items;
    expect(after?.state).toBe('held');
    await page.close();
  });
});
