/**
 * The console's credential source: a session opened by signing in with an API key, carried in a cookie
 * (httpOnly, SameSite=Strict, Secure when the request came over TLS, Path=/ui, with an expiry), closed by
 * signing out or by revoking the key. The session gives the same key record the bearer auth gives the API, so
 * the same role table decides (src/api/roles.ts).
 *
 * State changes from the console are form posts, so each must prove it came from a console page: the form
 * carries the session's CSRF token, and a browser's `Sec-Fetch-Site`/`Origin` must name this origin. Either
 * check alone stops a cross-site post; both stay because old browsers send neither header.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from '../errors.js';
import type { SessionStore, UiSession } from '../store/sessions.js';

export const SESSION_COOKIE = 'mailsentra_session';

/** The body type of the console's state changes: HTML forms (the API keeps its JSON-only rule). */
export const FORM = ['application/x-www-form-urlencoded'] as const;

/**
 * The console session as a credential source of the API's auth hook (src/api/auth.ts): only for console
 * routes (by the route matched, not the URL), so a session never authorises /api. The session is kept on
 * the request for the CSRF check and the pages.
 */
export function sessionCredential(store: SessionStore) {
  return async (request: FastifyRequest) => {
    if (!request.routeOptions.url?.startsWith('/ui/') && request.routeOptions.url !== '/ui') return null;
    const session = await sessionOf(store, request);
    request.uiSession = session;
    return session?.key ?? null;
  };
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!(name in out)) out[name] = value;
  }
  return out;
}

export function sessionCookie(token: string, options: { secure: boolean; maxAgeSeconds: number }): string {
  return [
    `${SESSION_COOKIE}=${token}`,
    'Path=/ui',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`,
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}

export const uiErrors = {
  crossSite: () => new HttpError(403, 'CROSS_SITE_REQUEST', 'request did not come from a console page'),
  badCsrf: () => new HttpError(403, 'BAD_CSRF_TOKEN', 'the form is stale or forged; reload the page'),
  signInRequired: () => new HttpError(401, 'SIGN_IN_REQUIRED', 'sign in first'),
} as const;

/** The session named by the request's cookie, or null. */
export async function sessionOf(store: SessionStore, request: FastifyRequest): Promise<UiSession | null> {
  const token = parseCookies(request.headers.cookie)[SESSION_COOKIE];
  return token ? store.find(token) : null;
}

export function sessionToken(request: FastifyRequest): string | null {
  return parseCookies(request.headers.cookie)[SESSION_COOKIE] ?? null;
}

/**
 * Refuses a state change a browser says came from elsewhere: `Sec-Fetch-Site` other than same-origin, or an
 * `Origin` that is not this host. (A request with neither comes from a non-browser client, which holds no
 * victim's cookie; the CSRF token still applies to it.)
 */
export function assertSameOrigin(request: FastifyRequest): void {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') throw uiErrors.crossSite();
  const origin = request.headers.origin;
  if (origin !== undefined) {
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      throw uiErrors.crossSite();
    }
    if (host !== request.headers.host) throw uiErrors.crossSite();
  }
}

export function assertCsrf(session: UiSession, sent: unknown): void {
  const a = Buffer.from(typeof sent === 'string' ? sent : '');
  const b = Buffer.from(session.csrf);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw uiErrors.badCsrf();
}

export async function signIn(
  store: SessionStore,
  reply: FastifyReply,
  key: Parameters<SessionStore['open']>[0],
  options: { ttlMs: number; secure: boolean },
): Promise<void> {
  const opened = await store.open(key, options.ttlMs);
  reply.header(
    'set-cookie',
    sessionCookie(opened.token, { secure: options.secure, maxAgeSeconds: options.ttlMs / 1000 }),
  );
}

export async function signOut(store: SessionStore, request: FastifyRequest, reply: FastifyReply) {
  const token = sessionToken(request);
  if (token) await store.close(token);
  reply.header('set-cookie', sessionCookie('', { secure: request.protocol === 'https', maxAgeSeconds: 0 }));
}
