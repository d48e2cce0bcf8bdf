/**
 * The console's model, digest-preference and sender-authentication parts in real Chromium against a whole
 * MailSentra (real Postgres, Redis): an admin trains, activates and rolls back with the buttons, which run
 * the API's own model actions (one job registry, the same site check and its "activate anyway"); an admin
 * switches a recipient's digests off and on; an analyst sees all of it and can do none of it; posts without a
 * session, without or with a forged CSRF token, or from another origin are refused; authentication results
 * of a logged message show as text, hostile ones included.
 */
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LinearModel } from '../../src/classifier/linear-model.js';
import { deserializeModel } from '../../src/classifier/model.js';
import { loadDefaultModel } from '../../src/classifier/model-source.js';
import type { Evaluation } from '../../src/classifier/types.js';
import { asOtherUser, openBrowser, signIn, type TestBrowser } from '../helpers/browser.js';
import { logEntry } from '../helpers/log-entry.js';
import { startTestService, type TestService } from '../helpers/service.js';

const ADMIN = `ms_admin_${randomBytes(12).toString('hex')}`;
let svc: TestService;
let browser: TestBrowser;
let base: string;
let analystKey: string;
let admin: Page;

const activeVersion = async () => ((await (await fetch(`${base}/ready`)).json()) as { model: string }).model;
const text = async (page: Page, selector = 'main') =>
  ((await page.textContent(selector)) ?? '').replace(/\s+/g, ' ');
const auditActions = async () =>
  (await svc.app.storage.audit.list(200)).map((a) => `${a.action} ${a.target}`);

beforeAll(async () => {
  svc = await startTestService({ config: { api: { adminApiKey: ADMIN } }, app: { digestTimer: false } });
  base = `http://127.0.0.1:${svc.apiPort}`;
  analystKey = (await svc.app.storage.keys.create('analyst', 'manage test')).key;
  // The version in force, stored as a service's start makes it, so it can be rolled back to.
  const current = loadDefaultModel();
  if (!(await svc.app.storage.models.list()).some((m) => m.version === current.version))
    await svc.app.storage.models.save({
      version: current.version,
      trainingSet: 'test',
      evaluation: null,
      artefact: current.serialize(),
      createdAt: new Date(Date.now() - 86_400_000),
    });
  await svc.app.storage.models.activate(current.version);
  browser = await openBrowser();
  admin = await browser.newPage();
  await signIn(admin, base, ADMIN);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await svc?.stop();
});

describe('models in the console', () => {
  it('trains through the API job registry, activates the new version and rolls back', async () => {
    const previous = await activeVersion();
    // A site report, so the version trained differs from the one in force (same data, same version).
    const tag = randomBytes(4).toString('hex');
    const feedback = await fetch(`${base}/api/v1/feedback`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        label: 'spam',
        raw: `From: x@promo.example\r\nSubject: Cheap ${tag}\r\n\r\nBuy cheap watches ${tag} now\r\n`,
      }),
    });
    expect(feedback.status).toBeLessThan(300);
    await admin.goto(`${base}/ui/models`);
    await Promise.all([admin.waitForURL(/done=/), admin.click('button:text("Train a new version")')]);
    const jobId = /job ([0-9a-f-]{36})/.exec((await admin.textContent('.notice')) ?? '')?.[1] ?? '';
    // A second press while it runs starts nothing and points at the running job (training takes seconds).
    await Promise.all([admin.waitForURL(/done=/), admin.click('button:text("Train a new version")')]);
    await expect(admin.textContent('.notice')).resolves.toContain(
      `A training job is running already (job ${jobId})`,
    );
    // The API sees the console's job: one registry.
    const job = await fetch(`${base}/api/v1/models/jobs/${jobId}`, {
      headers: { authorization: `Bearer ${analystKey}` },
    });
    expect(job.status).toBe(200);
    let state = 'running';
    let version = '';
    for (let i = 0; i < 300 && state === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 500));
      ({ state, version } = (await (
        await fetch(`${base}/api/v1/models/jobs/${jobId}`, { headers: { authorization: `Bearer ${ADMIN}` } })
      ).json()) as { state: string; version: string });
    }
    expect(state).toBe('done');
    expect(version).not.toBe(previous);
    await admin.goto(`${base}/ui/models`);
    await expect(admin.locator('table').first().textContent()).resolves.toContain('done');
    const row = admin.locator('table.wide tr', { hasText: version });
    await expect(row.textContent()).resolves.toMatch(/accuracy 0\.\d{4}/);
    await browser.shot(admin, 'models');
    await Promise.all([admin.waitForURL(/done=/), row.locator('button:text("Activate")').click()]);
    await expect(admin.textContent('.notice')).resolves.toContain(`${version} is active.`);
    expect(await activeVersion()).toBe(version);
    // The older version now offers a rollback.
    const back = admin.locator('table.wide tr', { hasText: previous });
    await Promise.all([
      admin.waitForURL(/done=/),
      back.locator('button:text("Roll back to this version")').click(),
    ]);
    expect(await activeVersion()).toBe(previous);
    const audit = await auditActions();
    expect(audit).toContain(`model.train ${jobId}`);
    expect(audit).toContain(`model.activate ${version}`);
    expect(audit).toContain(`model.activate ${previous}`);
  }, 240_000);

  it('answers 409 for a version worse on held-out site mail, and activates it only when forced', async () => {
    const active = await activeVersion();
    const candidate = deserializeModel(loadDefaultModel().serialize()) as LinearModel;
    candidate.version = `sa-worse-${randomBytes(3).toString('hex')}`;
    const figures = (falsePositives: number, falseNegatives: number) => ({
      falsePositives,
      falseNegatives,
      rocAuc: 0.9,
    });
    await svc.app.storage.models.save({
      version: candidate.version,
      trainingSet: 'test',
      evaluation: {
        site: { ham: 6, spam: 6, candidate: figures(2, 1), baseline: { ...figures(0, 1), version: active } },
      } as Evaluation,
      artefact: candidate.serialize(),
    });
    await admin.goto(`${base}/ui/models`);
    const row = admin.locator('table.wide tr', { hasText: candidate.version });
    expect(((await row.textContent()) ?? '').replace(/\s+/g, ' ')).toContain(
      `2 FP / 1 FN vs ${active} 0 FP / 1 FN`,
    );
    const [refused] = await Promise.all([
      admin.waitForResponse((r) => r.url().endsWith(`/ui/models/${candidate.version}/activate`)),
      row.locator('button:text("Activate")').click(),
    ]);
    expect(refused.status()).toBe(409);
    expect(await text(admin)).toMatch(/worse than the active .* 12 held-out site reports/);
    expect(await activeVersion()).toBe(active);
    await browser.shot(admin, 'models-409');
    await Promise.all([admin.waitForURL(/done=/), admin.click('button:text("Activate anyway")')]);
    expect(await activeVersion()).toBe(candidate.version);
    // Back to the version in force for the other tests.
    await admin.goto(`${base}/ui/models`);
    const back = admin.locator('table.wide tr', { hasText: active });
    await Promise.all([admin.waitForURL(/done=/), back.locator('button[type="submit"]').click()]);
    expect(await activeVersion()).toBe(active);
  });

  it('an analyst sees the versions and no buttons, and is refused train and activate', async () => {
    await asOtherUser(base, analystKey, '/ui/models', async (page, post) => {
      await expect(page.textContent('main')).resolves.toContain('Only an admin can train');
      await expect(page.locator('form[action^="/ui/models"]').count()).resolves.toBe(0);
      const versions = await svc.app.storage.models.list();
      const inactive = versions.find((m) => !m.active)?.version ?? 'x';
      const before = await auditActions();
      for (const url of ['/ui/models/train', `/ui/models/${inactive}/activate`])
        expect((await post(url)).status()).toBe(403);
      expect(await auditActions()).toEqual(before);
    });
  });

  it('refuses model posts without a session, without or with a forged CSRF token, or cross-site', async () => {
    const inactive = (await svc.app.storage.models.list()).find((m) => !m.active)?.version ?? 'x';
    const active = await activeVersion();
    const before = await auditActions();
    await admin.goto(`${base}/ui/models`);
    const csrf = (await admin.getAttribute('input[name="_csrf"]', 'value')) ?? '';
    const post = (url: string, form: Record<string, string>, origin = base) =>
      admin.request.post(`${base}${url}`, { form, headers: { origin } });
    for (const url of ['/ui/models/train', `/ui/models/${inactive}/activate`]) {
      const tokenless = await post(url, {});
      expect(tokenless.status()).toBe(403);
      await expect(tokenless.text()).resolves.toContain('BAD_CSRF_TOKEN');
      expect((await post(url, { _csrf: `${csrf.slice(0, -2)}xx` })).status()).toBe(403);
      const crossSite = await post(url, { _csrf: csrf }, 'http://127.0.0.2:1');
      expect(crossSite.status()).toBe(403);
      await expect(crossSite.text()).resolves.toContain('CROSS_SITE_REQUEST');
      const anonymous = await fetch(`${base}${url}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `_csrf=${csrf}`,
      });
      expect(anonymous.status).toBe(401);
    }
    expect(await activeVersion()).toBe(active);
    expect(await auditActions()).toEqual(before);
  });
});

describe('digest preferences in the console', () => {
  it('an admin switches a recipient off and on; an analyst sees the list but cannot change it', async () => {
    await admin.goto(`${base}/ui/digest`);
    await admin.fill('input[name="recipient"]', 'Quinn@Rcpt.Example');
    await admin.selectOption('select[name="digests"]', 'off');
    await Promise.all([admin.waitForURL(/done=/), admin.click('form.filters button[type="submit"]')]);
    await expect(admin.textContent('.notice')).resolves.toContain('Digests for quinn@rcpt.example are off.');
    expect((await svc.app.storage.digest.preference('quinn@rcpt.example')).enabled).toBe(false);
    await browser.shot(admin, 'digest-recipients');

    await asOtherUser(base, analystKey, '/ui/digest', async (page, post) => {
      await expect(page.textContent('main')).resolves.toContain('quinn@rcpt.example');
      await expect(page.locator('form[action="/ui/digest"]').count()).resolves.toBe(0);
      const res = await post('/ui/digest', { recipient: 'quinn@rcpt.example', digests: 'on' });
      expect(res.status()).toBe(403);
      expect((await svc.app.storage.digest.preference('quinn@rcpt.example')).enabled).toBe(false);
    });

    const tokenless = await admin.request.post(`${base}/ui/digest`, {
      form: { recipient: 'quinn@rcpt.example', digests: 'on' },
      headers: { origin: base },
    });
    expect(tokenless.status()).toBe(403);
    const csrf = (await admin.getAttribute('input[name="_csrf"]', 'value')) ?? '';
    const bad = await admin.request.post(`${base}/ui/digest`, {
      form: { _csrf: csrf, recipient: '<b>x</b>', digests: 'on' },
      headers: { origin: base },
    });
    expect(bad.status()).toBe(400);
    await expect(bad.text()).resolves.toContain('&lt;b&gt;x&lt;/b&gt;');
    const row = admin.locator('table.wide tr', { hasText: 'quinn@rcpt.example' });
    await Promise.all([admin.waitForURL(/done=/), row.locator('button:text("Turn digests on")').click()]);
    expect((await svc.app.storage.digest.preference('quinn@rcpt.example')).enabled).toBe(true);
    const audit = await auditActions();
    expect(audit).toContain('digest.unsubscribe quinn@rcpt.example');
    expect(audit).toContain('digest.subscribe quinn@rcpt.example');
  });
});

describe('sender authentication in the message view', () => {
  it('shows SPF, DKIM, DMARC and ARC as logged, hostile text as text', async () => {
    const tag = randomBytes(4).toString('hex');
    const entry = logEntry({
      subject: `Auth ${tag}`,
      auth: {
        spf: 'pass',
        dkim: 'fail',
        dmarc: 'fail',
        arc: 'none',
        dmarcPolicy: 'reject',
        fromDomain: '<img src=x onerror=window.__pwned=1>.example',
        signals: [{ name: 'dmarc_fail', description: '<script>window.__pwned=1</script>' }],
      },
    });
    svc.app.storage.messages.record(entry);
    await svc.app.storage.messages.flush();
    const seen = browser.requests.length;
    await admin.goto(`${base}/ui/messages/${entry.id}`);
    const table = admin.locator('table.auth');
    await expect(table.locator('tr', { hasText: /^\s*SPF/ }).textContent()).resolves.toContain('pass');
    await expect(table.locator('tr', { hasText: /^\s*DKIM/ }).textContent()).resolves.toContain('fail');
    await expect(table.locator('tr', { hasText: /^\s*DMARC/ }).textContent()).resolves.toContain(
      'fail (policy reject)',
    );
    await expect(table.locator('tr', { hasText: /^\s*ARC/ }).textContent()).resolves.toContain('none');
    await expect(admin.textContent('ul.signals')).resolves.toContain('<script>window.__pwned=1</script>');
    await expect(table.textContent()).resolves.toContain('<img src=x onerror=window.__pwned=1>.example');
    await expect(admin.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).resolves.toBeUndefined();
    expect(browser.requests.slice(seen).filter((u) => !u.startsWith(base))).toEqual([]);
    await browser.shot(admin, 'message-auth');
  });
});
