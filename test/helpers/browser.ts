/**
 * Real Chromium for the console tests: the Debian `chromium` driven by playwright-core (no browser download),
 * headless, with a fresh profile directory per browser. Every request the pages make is recorded, so a test
 * can assert that nothing left for another host. Screenshots go to test-results/ui/ (gitignored).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type APIResponse, type BrowserContext, chromium, type Page } from 'playwright-core';
import type { DeepPartial } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { startTestService, type TestService } from './service.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.resolve('test-results/ui');

export interface TestBrowser {
  context: BrowserContext;
  /** Every URL requested by any page of this browser, in order. */
  requests: string[];
  newPage(): Promise<Page>;
  shot(page: Page, name: string): Promise<void>;
  close(): Promise<void>;
}

export async function openBrowser(): Promise<TestBrowser> {
  const profile = mkdtempSync(path.join(tmpdir(), 'mailsentra-chromium-'));
  mkdirSync(SCREENSHOTS, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const requests: string[] = [];
  context.on('request', (r) => requests.push(r.url()));
  return {
    context,
    requests,
    async newPage() {
      const page = await context.newPage();
      // Console buttons that delete ask to confirm: accept, as a user clicking OK would.
      page.on('dialog', (d) => void d.accept());
      return page;
    },
    async shot(page, name) {
      await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Signs in on the console's page with an API key. */
export async function signIn(page: Page, base: string, key: string): Promise<void> {
  await page.goto(`${base}/ui/login`);
  await page.fill('input[name="key"]', key);
  await Promise.all([page.waitForURL(`${base}/ui`), page.click('button[type="submit"]')]);
}

/** A form post from a signed-in page: same-origin, with the page's CSRF token and `form` on top. */
export type PagePost = (url: string, form?: Record<string, string>) => Promise<APIResponse>;

/**
 * What another user sees and may do: a page in a browser of its own, signed in with `key` and opened at
 * `path`, and `post` for the hand-made requests that user could send with its own valid session.
 */
export async function asOtherUser(
  base: string,
  key: string,
  path: string,
  use: (page: Page, post: PagePost) => Promise<void>,
): Promise<void> {
  const other = await openBrowser();
  try {
    const page = await other.newPage();
    await signIn(page, base, key);
    await page.goto(`${base}${path}`);
    const csrf = (await page.getAttribute('input[name="_csrf"]', 'value')) ?? '';
    await use(page, (url, form = {}) =>
      page.request.post(`${base}${url}`, { form: { _csrf: csrf, ...form }, headers: { origin: base } }),
    );
  } finally {
    await other.close();
  }
}

export interface ConsoleUnderTest {
  svc: TestService;
  browser: TestBrowser;
  /** The console's origin, http://127.0.0.1:<api port>. */
  base: string;
  stop(): Promise<void>;
}

/** A service with its console, and a browser to drive it; digest rounds run when a test calls them. */
export async function startConsoleUnderTest(config: DeepPartial<Config>): Promise<ConsoleUnderTest> {
  const svc = await startTestService({ config, app: { digestTimer: false } });
  const browser = await openBrowser().catch(async (err: unknown) => {
    await svc.stop();
    throw err;
  });
  return {
    svc,
    browser,
    base: `http://127.0.0.1:${svc.apiPort}`,
    async stop() {
      await browser.close();
      await svc.stop();
    },
  };
}
