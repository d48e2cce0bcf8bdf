/**
 * The quarantine digest end to end: held mail → a digest at the real next hop (text and HTML, Auto-Submitted,
 * List-Unsubscribe, only the recipient's own rows) → its release link followed in real Chromium without
 * signing in → the message delivered once. Tampered, expired and misdirected tokens are refused; a GET
 * changes nothing. The unsubscribe link (confirmation page, RFC 8058 one-click POST) stops the recipient's
 * digests and lets them back in; it acts for its own recipient only.
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
  let unsubscribeLink = '';

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
    // RFC 8058: the subscription link as List-Unsubscribe, with the one-click POST announced.
    unsubscribeLink = /Unsubscribe from these digests: (\S+)/.exec(parsed.text ?? '')?.[1] ?? '';
    expect(unsubscribeLink.startsWith(`${ui.base}/ui/d/subscription/`)).toBe(true);
    const unfolded = (rita?.raw.toString() ?? '').replace(/\r\n[ \t]+/g, ' ');
    expect(unfolded).toMatch(/\r\nList-Unsubscribe: +<([^>]+)>\r\n/);
    expect(/\r\nList-Unsubscribe: +<([^>]+)>/.exec(unfolded)?.[1]).toBe(unsubscribeLink);
    expect(unfolded).toContain('\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n');
    expect(parsed.html).toContain(`href="${unsubscribeLink}"`);
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
  it('an allow link allows the sender for the recipient domain, authenticated only; on a deleted row it only allows', async () => {
    const key = Buffer.from(SIGNING_KEY);
    const link = (row: string, to: string, act: 'allow' | 'delete') =>
      `${ui.base}/ui/d/${signToken(key, { row, to, act, exp: Math.floor(Date.now() / 1000) + 600 })}`;
    const post = (url: string) =>
      fetch(url, {
        method: 'POST',
        headers: { origin: ui.base, 'content-type': 'application/x-www-form-urlencoded' },
        body: '',
      });
    await hold('tess@rcpt.example', `For Tess ${tag}`);
    const [held] = (await ui.svc.app.storage.quarantine.list({ recipient: 'tess@rcpt.example' })).items;
    const allow = link(held?.id ?? '', 'tess@rcpt.example', 'allow');
    expect(await (await fetch(allow)).text()).toContain('Always allow offers@held.example and release');
    const r = await post(allow);
    expect(r.status).toBe(200);
    expect(await r.text()).toMatch(/State<\/dt><dd>released</);
    const entries = await ui.svc.app.storage.lists.all();
    expect(entries.find((e) => e.value === 'offers@held.example')).toMatchObject({
      list: 'allow',
      scope: 'rcpt.example',
      alignedOnly: true,
    });

    await hold('uma@rcpt.example', `For Uma ${tag}`);
    const [gone] = (await ui.svc.app.storage.quarantine.list({ recipient: 'uma@rcpt.example' })).items;
    expect((await post(link(gone?.id ?? '', 'uma@rcpt.example', 'delete'))).status).toBe(200);
    const allowGone = link(gone?.id ?? '', 'uma@rcpt.example', 'allow');
    const page = await (await fetch(allowGone)).text();
    expect(page).toContain('Always allow offers@held.example</button>');
    const after = await post(allowGone);
    expect(after.status).toBe(200);
    const text = await after.text();
    expect(text).toContain('offers@held.example is allowed.');
    expect(text).toMatch(/State<\/dt><dd>deleted</);
  });

  it('unsubscribes through the link (a GET changes nothing), skips the recipient, and subscribes again', async () => {
    const enabled = async (r: string) => (await ui.svc.app.storage.digest.preference(r)).enabled;
    const page = await ui.browser.newPage();
    await page.goto(unsubscribeLink);
    await expect(page.textContent('h1')).resolves.toBe('Quarantine digests');
    await ui.browser.shot(page, 'digest-unsubscribe');
    expect(await enabled('rita@rcpt.example')).toBe(true);
    await Promise.all([page.waitForURL(unsubscribeLink), page.click('button[type="submit"]')]);
    await expect(page.textContent('main')).resolves.toContain('Unsubscribed');
    expect(await enabled('rita@rcpt.example')).toBe(false);
    const [audit] = await ui.svc.app.storage.audit.list(1);
    expect(audit).toMatchObject({ action: 'digest.unsubscribe', actor: 'digest:rita@rcpt.example' });

    // New mail for both, a day later (the interval is 24 hours): only Sam gets a digest.
    const hours = (h: number) => new Date(Date.now() + h * 3_600_000);
    await hold('rita@rcpt.example', `Later for Rita ${tag}`);
    await hold('sam@rcpt.example', `Later for Sam ${tag}`);
    const before = ui.svc.sink.messages.length;
    await expect(ui.svc.app.digest?.runOnce(hours(25))).resolves.toEqual({ sent: 1, failed: 0 });
    expect(ui.svc.sink.messages.slice(before).map((m) => m.rcptTo[0])).toEqual(['sam@rcpt.example']);

    // The same page opts back in; the next round brings what was held meanwhile.
    await Promise.all([page.waitForURL(unsubscribeLink), page.click('button:text("Send me digests again")')]);
    await expect(page.textContent('main')).resolves.toContain('Digests are on again');
    expect(await enabled('rita@rcpt.example')).toBe(true);
    const again = ui.svc.sink.messages.length;
    await expect(ui.svc.app.digest?.runOnce(hours(50))).resolves.toEqual({ sent: 1, failed: 0 });
    const back = ui.svc.sink.messages.slice(again);
    expect(back.map((m) => m.rcptTo[0])).toEqual(['rita@rcpt.example']);
    expect(back[0]?.raw.toString()).toContain(`Later for Rita ${tag}`);
    await page.close();
  }, 90_000);

  it('takes the RFC 8058 one-click POST, form or multipart, without a session or Origin', async () => {
    const enabled = async () => (await ui.svc.app.storage.digest.preference('rita@rcpt.example')).enabled;
    const form = await fetch(unsubscribeLink, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(form.status).toBe(200);
    expect(await enabled()).toBe(false);
    await ui.svc.app.storage.digest.setDisabled('rita@rcpt.example', false);
    const multipart = new FormData();
    multipart.set('List-Unsubscribe', 'One-Click');
    const mp = await fetch(unsubscribeLink, { method: 'POST', body: multipart });
    expect(mp.status).toBe(200);
    expect(await enabled()).toBe(false);
    await ui.svc.app.storage.digest.setDisabled('rita@rcpt.example', false);
  });

  it('refuses forged, expired, tampered, misused and cross-site subscription requests', async () => {
    const enabled = async (r: string) => (await ui.svc.app.storage.digest.preference(r)).enabled;
    const key = Buffer.from(SIGNING_KEY);
    const sub = (to: string, exp: number, k = key) =>
      `${ui.base}/ui/d/subscription/${signToken(k, { to, act: 'digests', exp })}`;
    const soon = Math.floor(Date.now() / 1000) + 600;
    const post = (url: string, form: Record<string, string> = {}) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      });

    const forged = await post(
      sub('sam@rcpt.example', soon, Buffer.from('another key, not the service one!')),
    );
    expect(forged.status).toBe(403);
    await expect(forged.text()).resolves.toContain('TOKEN_FORGED');
    const expired = await post(sub('sam@rcpt.example', Math.floor(Date.now() / 1000) - 60));
    expect(expired.status).toBe(410);
    const token = unsubscribeLink.slice(unsubscribeLink.lastIndexOf('/') + 1);
    const [body, mac] = token.split('.') as [string, string];
    // Rita's claim re-encoded for Sam, her MAC kept: the MAC no longer matches.
    const claim = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const retargeted = Buffer.from(JSON.stringify({ ...claim, to: 'sam@rcpt.example' })).toString(
      'base64url',
    );
    expect((await post(`${ui.base}/ui/d/subscription/${retargeted}.${mac}`)).status).toBe(403);
    expect((await post(`${ui.base}/ui/d/subscription/${body}.${mac.slice(0, -2)}xx`)).status).toBe(403);
    // Rita's link names Rita, whatever the form says.
    expect(
      (await post(unsubscribeLink, { recipient: 'sam@rcpt.example', to: 'sam@rcpt.example' })).status,
    ).toBe(200);
    expect(await enabled('sam@rcpt.example')).toBe(true);
    await ui.svc.app.storage.digest.setDisabled('rita@rcpt.example', false);
    expect((await post(unsubscribeLink, { digests: 'maybe' })).status).toBe(400);
    // A release link is not a subscription link, nor the other way round.
    const misused = await post(releaseLink.replace('/ui/d/', '/ui/d/subscription/'));
    expect(misused.status).toBe(403);
    await expect(misused.text()).resolves.toContain('TOKEN_MISUSED');
    expect((await post(`${ui.base}/ui/d/${token}`)).status).toBe(403);
    expect(await enabled('sam@rcpt.example')).toBe(true);
    expect(await enabled('rita@rcpt.example')).toBe(true);

    // An attacker's page auto-submits the link as a form from another origin: refused by the browser's
    // Sec-Fetch-Site, so a third party holding a forwarded digest cannot act through a visitor's ui.browser.
    const { createServer } = await import('node:http');
    const evil = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<form id=f method=post action="${unsubscribeLink}"><input name=digests value=off></form>
        <script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.2', r));
    const page = await ui.browser.newPage();
    try {
      const response = page.waitForResponse((r) => r.url() === unsubscribeLink);
      await page.goto(`http://127.0.0.2:${(evil.address() as { port: number }).port}/`);
      expect((await response).status()).toBe(403);
    } finally {
      evil.close();
      await page.close();
    }
    expect(await enabled('rita@rcpt.example')).toBe(true);
  });
});
