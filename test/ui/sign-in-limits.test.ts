/**
 * The console's sign-in counts failures per address as the API's keys do: past `api.authFailuresPerMinute` a
 * wrong key gets 429 however the sign-in's path is spelled (the limit is the route's, not a string test on
 * the URL), and a valid key is still served.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api.js';

const ADMIN = 'sign-in-limits-admin-key-0123456789';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe('console sign-in failures', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi({ api: { adminApiKey: ADMIN, authFailuresPerMinute: 3 } });
  });
  afterAll(async () => {
    await api?.close();
  });
  const signIn = (url: string, key: string) =>
    api.app.inject({ method: 'POST', url, headers: FORM, payload: `key=${encodeURIComponent(key)}` });

  it('refuses every spelling of the route past the limit, and still serves a valid key', async () => {
    for (let i = 0; i < 3; i++) expect((await signIn('/ui/login', `wrong-${i}`)).statusCode).toBe(401);
    for (const url of ['/ui/login', '/ui/login?x', '/ui/login?', '/ui/login?next=/ui', '/ui/login#a'])
      expect((await signIn(url, 'wrong-again')).statusCode, url).toBe(429);
    const valid = await signIn('/ui/login?x', ADMIN);
    expect(valid.statusCode).toBe(303);
    expect(String(valid.headers['set-cookie'])).toMatch(/^mailsentra_session=/);
  });
});
