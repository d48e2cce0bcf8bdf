/**
 * The console in real Chromium against a whole MailSentra (real Postgres, Redis, SMTP in and a recording
 * next hop): sign in, search, open, release to the next hop, bulk delete, block a sender and see the next
 * message from them quarantined, an analyst cannot release, and a cross-site form post is refused.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asOtherUser, type ConsoleUnderTest, signIn, startConsoleUnderTest } from '../helpers/browser.js';
import { send } from '../helpers/smtp-client.js';

const ADMIN = `ms_admin_${randomBytes(12).toString('hex')}`;
let ui: ConsoleUnderTest;
let analystKey: string;

function mail(from: string, to: string, subject: string, body = 'Hello, this is a message.'): string {
  return (
    `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${randomBytes(6).toString('hex')}@t>\r\n` +
    `Date: Tue, 4 Mar 2025 10:00:00 +0000\r\n\r\n${body}\r\n`
  );
}

async function deliver(from: string, to: string, subject: string) {
  const r = await send(ui.svc.smtpPort, { from, to: [to] }, mail(from, to, subject));
  expect(r.code).toBe(250);
  await ui.svc.app.storage.messages.flush();
}

beforeAll(async () => {
  ui = await startConsoleUnderTest({
    api: { adminApiKey: ADMIN },
    // Held by a config entry: the test decides what is quarantined, not the model.
    policy: { blockSenders: ['@held.example'] },
  });
  analystKey = (await ui.svc.app.storage.keys.create('analyst', 'ui test')).key;
}, 120_000);

afterAll(async () => {
  await ui?.stop();
});

describe('console', () => {
  it('signs in, searches the log and opens a message', async () => {
    const tag = randomBytes(4).toString('hex');
    await deliver('alice@sender.example', 'bob@rcpt.example', `Quarterly numbers ${tag}`);
    const page = await ui.browser.newPage();
    await page.goto(`${ui.base}/ui`);
    expect(page.url()).toBe(`${ui.base}/ui/login`);
    await signIn(page, ui.base, ADMIN);
    await expect(page.textContent('h1')).resolves.toBe('Overview');
    await ui.browser.shot(page, 'overview');
    const cookies = await ui.browser.context.cookies(`${ui.base}/ui`);
    const session = cookies.find((c) => c.name === 'mailsentra_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/ui' });

    await page.goto(`${ui.base}/ui/messages`);
    await page.fill('input[name="subject"]', tag);
    await Promise.all([page.waitForURL(/subject=/), page.click('form.filters button[type="submit"]')]);
    const rows = page.locator('table.wide tbody tr');
    await expect(rows.count()).resolves.toBe(1);
    await ui.browser.shot(page, 'message-log');
    await Promise.all([
      page.waitForURL(/\/ui\/messages\/[0-9a-f-]{36}$/),
      page.click(`text=Quarterly numbers ${tag}`),
    ]);
    await expect(page.textContent('main')).resolves.toContain('alice@sender.example');
    await expect(page.textContent('main')).resolves.toContain('Hello, this is a message.');
    await ui.browser.shot(page, 'message-view');
    await page.close();
  });

  it('releases a quarantined message to the next hop, once', async () => {
    const tag = randomBytes(4).toString('hex');
    await deliver('promo@held.example', 'carol@rcpt.example', `Held ${tag}`);
    const before = ui.svc.sink.messages.length;
    const page = await ui.browser.newPage();
    await page.goto(`${ui.base}/ui/quarantine?subject=${tag}`);
    await ui.browser.shot(page, 'quarantine');
    await page.check('input[name="ids"]');
    await Promise.all([page.waitForURL(/done=/), page.click('button[formaction="/ui/quarantine/release"]')]);
    await expect(page.textContent('.notice')).resolves.toContain('Released 1');
    const arrived = ui.svc.sink.messages
      .slice(before)
      .filter((m) => m.raw.toString().includes(`Held ${tag}`));
    expect(arrived).toHaveLength(1);
    expect(arrived[0]?.rcptTo).toEqual(['carol@rcpt.example']);
    const [row] = (await ui.svc.app.storage.quarantine.list({ subject: tag })).items;
    expect(row?.state).toBe('released');
    await page.close();
  });

  it('bulk-deletes with select-all', async () => {
    const tag = randomBytes(4).toString('hex');
    for (const n of [1, 2, 3]) await deliver('bulk@held.example', `u${n}@rcpt.example`, `Bulk ${tag}`);
    const page = await ui.browser.newPage();
    await page.goto(`${ui.base}/ui/quarantine?subject=${tag}`);
    await expect(page.locator('input[name="ids"]').count()).resolves.toBe(3);
    await page.check('input[data-select-all]');
    await Promise.all([page.waitForURL(/done=/), page.click('button[formaction="/ui/quarantine/delete"]')]);
    await expect(page.textContent('.notice')).resolves.toContain('Deleted 3');
    const states = (await ui.svc.app.storage.quarantine.list({ subject: tag })).items.map((i) => i.state);
    expect(states).toEqual(['deleted', 'deleted', 'deleted']);
    await page.close();
  });

  it('blocks a sender from a quarantined message; their next message is quarantined', async () => {
    const tag = randomBytes(4).toString('hex');
    // Held by the config list, so the row exists; the block is for the sender's other domain-mate below.
    await deliver('ann@held.example', 'dave@rcpt.example', `First ${tag}`);
    const page = await ui.browser.newPage();
    await page.goto(`${ui.base}/ui/quarantine?subject=${tag}`);
    await Promise.all([page.waitForURL(/\/ui\/quarantine\/[0-9a-f-]{36}$/), page.click(`text=First ${tag}`)]);
    // Block the address for the recipient's domain only.
    const blockForm = page.locator('form[action$="/list"]').filter({ hasText: 'Block sender' });
    await blockForm.locator('select[name="scope"]').selectOption('domain');
    await Promise.all([page.waitForURL(/done=/), blockForm.locator('button').click()]);
    await expect(page.textContent('.notice')).resolves.toContain(
      'ann@held.example is on the block list for rcpt.example',
    );
    await ui.browser.shot(page, 'quarantine-view');
    // The config list would hold mail from held.example anyway: prove the DB entry with a message whose
    // sender only the new entry names, by listing that sender's address in a new domain-scoped entry.
    await page.goto(`${ui.base}/ui/lists`);
    await page.fill('input[name="value"]', `spammer-${tag}@elsewhere.example`);
    await page.fill('input[name="scope"]', 'global');
    await Promise.all([page.waitForURL(/done=/), page.click('form.filters button[type="submit"]')]);
    await ui.browser.shot(page, 'lists');
    const r = await send(
      ui.svc.smtpPort,
      { from: `spammer-${tag}@elsewhere.example`, to: ['erin@rcpt.example'] },
      mail(`spammer-${tag}@elsewhere.example`, 'erin@rcpt.example', `Second ${tag}`),
    );
    expect(r.code).toBe(250);
    const [held] = (await ui.svc.app.storage.quarantine.list({ subject: `Second ${tag}` })).items;
    expect(held?.reason).toContain(`block list entry spammer-${tag}@elsewhere.example`);
    const audit = await ui.svc.app.storage.audit.list(20);
    expect(audit.map((a) => a.action)).toContain('lists.block.add');
    await page.close();
  });

  it('an analyst sees no release and is refused one', async () => {
    const tag = randomBytes(4).toString('hex');
    await deliver('x@held.example', 'frank@rcpt.example', `Analyst ${tag}`);
    await asOtherUser(ui.base, analystKey, `/ui/quarantine?subject=${tag}`, async (page, post) => {
      await expect(page.locator('button[formaction="/ui/quarantine/release"]').count()).resolves.toBe(0);
      // A hand-made post with the analyst's own valid session and CSRF token: refused by role.
      const id = await page.getAttribute('input[name="ids"]', 'value');
      const res = await post('/ui/quarantine/release', { ids: id ?? '' });
      expect(res.status()).toBe(403);
      const [row] = (await ui.svc.app.storage.quarantine.list({ subject: tag })).items;
      expect(row?.state).toBe('held');
    });
  });

  it('refuses a cross-site form post, even with the session cookie', async () => {
    const tag = randomBytes(4).toString('hex');
    await deliver('y@held.example', 'gina@rcpt.example', `Csrf ${tag}`);
    const [row] = (await ui.svc.app.storage.quarantine.list({ subject: tag })).items;
    // An attacker's page on another origin (a second server on another port) auto-submits a form to us.
    const page = await ui.browser.newPage();
    const { createServer } = await import('node:http');
    const evil = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<form id=f method=post action="${ui.base}/ui/quarantine/release">
        <input name=ids value="${row?.id}"></form><script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.2', r));
    const port = (evil.address() as { port: number }).port;
    try {
      const response = page.waitForResponse((r) => r.url() === `${ui.base}/ui/quarantine/release`);
      await page.goto(`http://127.0.0.2:${port}/`);
      // The SameSite=Strict cookie stays home, so the post arrives without a session.
      expect((await response).status()).toBe(401);
    } finally {
      evil.close();
    }
    // With the session and a valid CSRF token, a post naming another origin is still refused...
    await page.goto(`${ui.base}/ui/quarantine?subject=${tag}`);
    const csrf = (await page.getAttribute('input[name="_csrf"]', 'value')) ?? '';
    const forged = await page.request.post(`${ui.base}/ui/quarantine/release`, {
      form: { _csrf: csrf, ids: row?.id ?? '' },
      headers: { origin: 'http://127.0.0.2:1' },
    });
    expect(forged.status()).toBe(403);
    await expect(forged.text()).resolves.toContain('CROSS_SITE_REQUEST');
    // ...and so is one from our own origin without the CSRF token.
    const tokenless = await page.request.post(`${ui.base}/ui/quarantine/release`, {
      form: { ids: row?.id ?? '' },
      headers: { origin: ui.base },
    });
    expect(tokenless.status()).toBe(403);
    await expect(tokenless.text()).resolves.toContain('BAD_CSRF_TOKEN');
    // A JSON body is not a console form: 415.
    const json = await page.request.post(`${ui.base}/ui/quarantine/release`, {
      data: { _csrf: csrf, ids: row?.id },
      headers: { origin: ui.base, 'content-type': 'application/json' },
    });
    expect(json.status()).toBe(415);
    const [after] = (await ui.svc.app.storage.quarantine.list({ subject: tag })).items;
    expect(after?.state).toBe('held');
    await page.close();
  });

  it('signs out: the session no longer works', async () => {
    const page = await ui.browser.newPage();
    await page.goto(`${ui.base}/ui`);
    await Promise.all([page.waitForURL(`${ui.base}/ui/login`), page.click('form.signout button')]);
    await page.goto(`${ui.base}/ui/quarantine`);
    expect(page.url()).toBe(`${ui.base}/ui/login`);
    await page.close();
  });
});
