/**
 * A hostile message in the console, in real Chromium: script in the subject, the display name and the HTML
 * body, event attributes, `javascript:` links and a 1×1 remote image. It must show as text, run nothing and
 * request nothing from anywhere but the console. A "remote" server on another loopback address counts every
 * request it gets (a script that ran, or an image that loaded, would call it).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleUnderTest, signIn, startConsoleUnderTest } from '../helpers/browser.js';
import { send } from '../helpers/smtp-client.js';

const ADMIN = `ms_admin_${randomBytes(12).toString('hex')}`;
let ui: ConsoleUnderTest;
let remote: Server;
let remoteUrl: string;
const remoteHits: string[] = [];

function hostileMail(tag: string): string {
  const beacon = `${remoteUrl}/beacon`;
  const html = [
    `<html><head><script>fetch('${beacon}?head');window.parent.__pwned=1</script>`,
    `<link rel="stylesheet" href="${remoteUrl}/style.css"><style>body{background:url(${remoteUrl}/bg.png)}</style></head>`,
    `<body onload="fetch('${beacon}?onload')"><p>Dear customer ${tag}</p>`,
    `<a href="javascript:fetch('${beacon}?js')">Verify your account</a>`,
    `<a href="${remoteUrl}/phish">Click here</a>`,
    `<img src="${remoteUrl}/pixel.gif" width="1" height="1">`,
    `<img src="x" onerror="fetch('${beacon}?onerror')">`,
    `<iframe src="${remoteUrl}/frame"></iframe><svg onload="fetch('${beacon}?svg')"></svg>`,
    `<form action="${remoteUrl}/form"><input name=a></form>`,
    '</body></html>',
  ].join('');
  return [
    `From: "<script>fetch('${beacon}?name')</script>Bank" <alerts@held.example>`,
    'To: victim@rcpt.example',
    `Subject: <script>fetch('${beacon}?subject')</script><img src=${remoteUrl}/subj.gif> ${tag}`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Plain part <script>alert(1)</script> ${tag}`,
    '--b1',
    'Content-Type: text/html; charset=utf-8',
    '',
    html,
    '--b1--',
    '',
  ].join('\r\n');
}

beforeAll(async () => {
  remote = createServer((req, res) => {
    remoteHits.push(req.url ?? '');
    res.end('');
  });
  await new Promise<void>((r) => remote.listen(0, '127.0.0.3', r));
  remoteUrl = `http://127.0.0.3:${(remote.address() as { port: number }).port}`;
  ui = await startConsoleUnderTest({
    api: { adminApiKey: ADMIN },
    policy: { blockSenders: ['@held.example'] },
  });
}, 120_000);

afterAll(async () => {
  await ui?.stop();
  remote?.close();
});

describe('hostile message in the console', () => {
  it('shows as text, runs nothing, loads nothing remote', async () => {
    const tag = randomBytes(4).toString('hex');
    const r = await send(
      ui.svc.smtpPort,
      { from: 'alerts@held.example', to: ['victim@rcpt.example'] },
      hostileMail(tag),
    );
    expect(r.code).toBe(250);
    const page = await ui.browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => dialogs.push(d.message()));
    await signIn(page, ui.base, ADMIN);
    const first = ui.browser.requests.length;

    await page.goto(`${ui.base}/ui/quarantine?subject=${tag}`);
    // The subject is listed as text, tags and all.
    await expect(page.locator('table.wide tbody a').first().textContent()).resolves.toContain(
      `<script>fetch('${remoteUrl}/beacon?subject')</script>`,
    );
    await Promise.all([
      page.waitForURL(/\/ui\/quarantine\/[0-9a-f-]{36}$/),
      page.locator('table.wide tbody a').first().click(),
    ]);
    const frame = page.frameLocator('iframe.body');
    await expect(frame.locator('body').textContent()).resolves.toContain(`Dear customer ${tag}`);
    // Let anything that would run or load have its chance.
    await page.waitForTimeout(1500);
    await ui.browser.shot(page, 'hostile-message');

    const main = (await page.textContent('main')) ?? '';
    expect(main).toContain(`<script>fetch('${remoteUrl}/beacon?name')</script>Bank`);
    expect(main).toContain('Plain part <script>alert(1)</script>');
    // Links are shown, not followable; no element of the frame points anywhere.
    await expect(frame.locator('a, img, iframe, form, script, link, svg').count()).resolves.toBe(0);
    await expect(frame.locator('body').textContent()).resolves.toContain(
      `[javascript:fetch('${remoteUrl}/beacon?js')]`,
    );
    await expect(frame.locator('body').textContent()).resolves.toContain(`[${remoteUrl}/phish]`);

    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(dialogs).toEqual([]);
    expect(remoteHits).toEqual([]);
    const elsewhere = ui.browser.requests.slice(first).filter((u) => !u.startsWith(`${ui.base}/`));
    expect(elsewhere).toEqual([]);
    await page.close();
  });
});
