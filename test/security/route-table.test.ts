/**
 * Every route Fastify registered (HEAD and plugin routes included), reached without a key and with a role that
 * may not use it, with the path spelled in every way routers normalise: nothing but a refusal or a 404 comes
 * back. The table is read from the live server, so a new route is covered without editing this file.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GuardedRoute } from '../../src/api/auth.js';
import { mayDo } from '../../src/api/roles.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { spellings } from '../helpers/path-spellings.js';

const ADMIN = 'route-table-admin-key-0123456789-abcdefghij';
let api: TestApi;
let analyst: string;

beforeAll(async () => {
  api = await startTestApi({
    api: { adminApiKey: ADMIN, authFailuresPerMinute: 1_000_000_000, rateLimitPerMinute: 1_000_000_000 },
  });
  analyst = (await api.storage.keys.create('analyst', 'route-table')).key;
}, 120_000);
afterAll(async () => {
  await api?.close();
});

/** A concrete path for a route pattern: parameters filled, wildcards given a segment. */
function concrete(url: string): string {
  return url
    .replace(/:id\b/g, randomUUID())
    .replace(/:[A-Za-z]+/g, 'x')
    .replace(/\*$/, 'index.html');
}

/** A console page refuses a browser without a session by sending it to the sign-in page. */
const allowedWithoutKey = (status: number, location?: unknown) =>
  status === 401 || status === 404 || status === 400 || (status === 303 && location === '/ui/login');

describe('authorisation by the matched route', () => {
  let routes: GuardedRoute[];
  beforeAll(() => {
    routes = api.app.routeTable();
  });

  it('lists every registered route, including HEAD and the /docs plugin, each with an action', () => {
    const keys = routes.map((r) => `${r.method} ${r.url}`);
    expect(keys).toContain('GET /api/v1/keys');
    expect(keys).toContain('POST /api/v1/keys');
    expect(keys).toContain('HEAD /api/v1/keys');
    expect(keys.some((k) => k.startsWith('GET /docs'))).toBe(true);
    expect(routes.filter((r) => r.action === null)).toEqual([]);
    // Public by design: liveness, readiness, metrics and the API's own description, the console's sign-in,
    // static files, digest links (their token is the credential) and `/` (a redirect); nothing under /api.
    for (const r of routes.filter((x) => x.action === 'public'))
      expect(r.url).toMatch(/^\/(health|ready|metrics|docs|ui\/login|ui\/static|ui\/d)(\/|$)|^\/$/);
  });

  it('refuses anonymous and wrong-role requests on every route, however the path is spelled', async () => {
    const failures: string[] = [];
    let reachedEncoded = 0;
    for (const route of routes) {
      if (route.action === 'public' || route.action === null) continue;
      const path = concrete(route.url);
      const withBody = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(route.method);
      for (const url of spellings(path)) {
        const base = {
          method: route.method as 'GET',
          url,
          ...(withBody ? { payload: '{}', headers: { 'content-type': 'application/json' } } : {}),
        };
        const anonymous = await api.app.inject(base);
        if (!allowedWithoutKey(anonymous.statusCode, anonymous.headers.location))
          failures.push(`anonymous ${route.method} ${url} → ${anonymous.statusCode}`);
        if (!mayDo('analyst', route.action)) {
          const wrongRole = await api.app.inject({
            ...base,
            headers: { ...(base.headers ?? {}), authorization: `Bearer ${analyst}` },
          });
          if (![400, 403, 404].includes(wrongRole.statusCode))
            failures.push(`analyst ${route.method} ${url} → ${wrongRole.statusCode}`);
        }
      }
      // Control: an encoded spelling reaches the route when the key is right, so the refusals above were
      // decided on the route, not by a router that simply did not match.
      if (route.method === 'GET' && !route.url.includes(':')) {
        const encoded = path.replace(/^\/a/, '/%61');
        const admin = await api.app.inject({
          method: 'GET',
          url: encoded,
          headers: { authorization: `Bearer ${ADMIN}` },
        });
        if (admin.statusCode === 200) reachedEncoded++;
      }
    }
    expect(failures).toEqual([]);
    expect(reachedEncoded).toBeGreaterThan(3);
    // Nothing was changed by all that: no key minted, nothing audited.
    expect((await api.storage.keys.list()).length).toBe(2);
    expect(await api.storage.audit.list(10)).toEqual([]);
  }, 180_000);

  it('refuses to start with a route that declares no action', async () => {
    const { default: Fastify } = await import('fastify');
    const { authPlugin } = await import('../../src/api/auth.js');
    const app = Fastify();
    await app.register(authPlugin, { keys: api.storage.keys, failuresPerMinute: 5 });
    app.get('/api/v1/forgotten', async () => ({ secret: true }));
    await expect(app.ready()).rejects.toThrow(/GET \/api\/v1\/forgotten/);
    await app.close().catch(() => {});
  });
});
