/**
 * The console's search filters answer a value they cannot use with 400 naming the field, as the API's do:
 * never a 500 from the database. A notice is shown only when the service wrote it: a link anyone can write
 * (`?done=…`, `?reported=…`) does not speak in the console's voice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleCookie, startTestApi, type TestApi } from '../helpers/api.js';
import { logEntry } from '../helpers/log-entry.js';

const ADMIN = 'console-filters-admin-key-0123456789';

describe('console search filters', () => {
  let api: TestApi;
  let cookie: string;
  beforeAll(async () => {
    api = await startTestApi({ api: { adminApiKey: ADMIN } });
    cookie = await consoleCookie(api.app, ADMIN);
  });
  afterAll(async () => {
    await api?.close();
  });

  it('refuses a time outside the years 1 to 9999 with 400 naming the field', async () => {
    for (const [page, fields] of [
      ['/ui/messages', ['since', 'until']],
      ['/ui/quarantine', ['since']],
    ] as const)
      for (const [slot, value] of [
        ['since', '10000-01-01'],
        ['since', '+099999-01-01T00:00'],
        ['until', '-271821-04-20'],
        // JavaScript's fallback parser reads these as the years 2000 and 1999.
        ['since', '0000-01-01'],
        ['since', '99-01-01'],
        ['until', '2026-02-30'],
        ['until', '2026-13-01'],
        ['until', '2026-12-01T25:00'],
        ['until', 'yesterday'],
      ] as const) {
        const field = fields[slot === 'since' ? 0 : fields.length - 1] as string;
        const url = `${page}?${field}=${encodeURIComponent(value)}`;
        const r = await api.app.inject({ url, headers: { cookie } });
        expect(r.statusCode, url).toBe(400);
        expect(r.body, url).toContain(`${field} must be a time such as 2026-12-01T00:00 (UTC)`);
      }
    for (const value of [
      '9999-12-31T23:59',
      '0001-01-01',
      '2026-12-01',
      '2026-12-01 10:00',
      '2026-12-01T10:00:30.5z',
      '2026-12-01T10:00+0530',
      '2026-12-01T10:00-05:00',
    ]) {
      const url = `/ui/messages?since=${encodeURIComponent(value)}`;
      const r = await api.app.inject({ url, headers: { cookie } });
      expect(r.statusCode, value).toBe(200);
    }
    const errors = api.logLines.filter((l) => Number(l.level) >= 50);
    expect(errors).toEqual([]);
  });

  it('shows a notice the service wrote after a post, and no text a link brings', async () => {
    const lure = 'Session expired: sign in again at https://console.evil.example';
    const forged = await api.app.inject({
      url: `/ui/lists?done=${encodeURIComponent(lure)}&n=AAAA`,
      headers: { cookie },
    });
    expect(forged.statusCode).toBe(200);
    expect(forged.body).not.toContain('console.evil.example');

    const csrf = /name="_csrf" value="([^"]+)"/.exec(forged.body)?.[1] ?? '';
    const added = await api.app.inject({
      method: 'POST',
      url: '/ui/lists',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: `_csrf=${encodeURIComponent(csrf)}&list=block&value=${encodeURIComponent('@notice.example')}&scope=global`,
    });
    expect(added.statusCode).toBe(303);
    const location = String(added.headers.location);
    expect(location).toMatch(/^\/ui\/lists\?done=.*&n=/);
    const shown = await api.app.inject({ url: location, headers: { cookie } });
    expect(shown.body).toContain('Added @notice.example to block.');
    // The same words under another session's page: its MAC is not this session's.
    const other = await consoleCookie(api.app, ADMIN);
    expect((await api.app.inject({ url: location, headers: { cookie: other } })).body).not.toContain(
      'Added @notice.example',
    );

    const entry = logEntry();
    api.storage.messages.record(entry);
    await api.storage.messages.flush();
    const reported = await api.app.inject({
      url: `/ui/messages/${entry.id}?reported=${encodeURIComponent(`spam. ${lure}`)}`,
      headers: { cookie },
    });
    expect(reported.statusCode).toBe(200);
    expect(reported.body).not.toContain('console.evil.example');
  });

  it('lets a browser keep the stylesheet and script an hour, and never a page', async () => {
    for (const url of ['/ui/static/console.css', '/ui/static/console.js'])
      expect((await api.app.inject({ url })).headers['cache-control'], url).toBe('max-age=3600');
    expect((await api.app.inject({ url: '/ui/lists', headers: { cookie } })).headers['cache-control']).toBe(
      'no-store',
    );
  });
});
