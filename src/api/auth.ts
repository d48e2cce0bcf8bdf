/**
 * Authentication and authorisation, decided by the route Fastify matched (never by the request URL: the router
 * decodes and normalises the path before matching, so string tests on `request.url` can be walked around).
 *
 * Every route declares `config.action`. A route registered without one stops the server at start, and one that
 * slipped past that is refused at request time, so a forgotten permission fails closed. `public` routes (health,
 * readiness, metrics, the OpenAPI document) need no key; every other action needs a bearer key whose role may do it.
 *
 * Failed attempts are counted per client; past `api.authFailuresPerMinute` a request without a valid key is answered
 * 429 at once, but a valid key is never refused for what others on the same address did (an admin behind a proxy
 * or on the same host must not be locked out by a noisy neighbour).
 */
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { LRUCache } from 'lru-cache';
import { HttpError, httpErrors } from '../errors.js';
import type { ApiKeyRecord, KeyStore } from '../store/types.js';
import { type Action, mayDo } from './roles.js';

/** What a route is for: a role-checked action, or `public` (no key needed). */
export type RouteAction = Action | 'public';

/** One registered route and the action that guards it (what `routeTable()` lists). */
export interface GuardedRoute {
  method: string;
  url: string;
  action: RouteAction | null;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered, HEAD and plugin routes included, with its action: for audits and tests. */
    routeTable(): GuardedRoute[];
  }
  interface FastifyRequest {
    apiKey: ApiKeyRecord | null;
  }
  interface FastifyContextConfig {
    action?: RouteAction;
    /**
     * Content types a state-changing route accepts (default: `application/json`, or no body). Browsers send
     * `text/plain`, form and multipart bodies cross-site without a preflight; JSON and `message/rfc822` they
     * do not, so refusing the former closes cross-site posts.
     */
    bodyTypes?: readonly string[];
  }
}

/**
 * Counts failures per client in fixed one-minute windows. A window is forgotten when it ends, and at most
 * 100 000 clients are tracked (least recently seen dropped first), so guessing from many addresses cannot
 * grow this without bound.
 */
export function failureCounter(limit: number, now: () => number = Date.now) {
  // Windows expire by their own start time (below), so the cache needs no TTL; its size bounds memory, and
  // lru-cache allocates its index for `max` up front (a larger one cost tens of ms at every start).
  const windows = new LRUCache<string, { start: number; count: number }>({ max: 10_000 });
  return {
    blocked(client: string): boolean {
      const w = windows.get(client);
      return w !== undefined && now() - w.start < 60_000 && w.count >= limit;
    },
    fail(client: string): void {
      const w = windows.get(client);
      if (!w || now() - w.start >= 60_000) windows.set(client, { start: now(), count: 1 });
      else w.count++;
    },
  };
}

export function actorOf(request: FastifyRequest): string {
  return request.apiKey ? `key:${request.apiKey.id}` : 'anonymous';
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const DEFAULT_BODY_TYPES = ['application/json'] as const;

/** The media type of a Content-Type header, lower-cased, without parameters; null when absent. */
export function mediaType(header: string | undefined): string | null {
  if (header === undefined) return null;
  const type = header.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return type === '' ? null : type;
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return request.headers['transfer-encoding'] !== undefined;
}

/** 415 unless a state-changing request's body is of a type its route accepts (no body is always fine). */
function refuseCrossSiteBody(request: FastifyRequest): void {
  if (!STATE_CHANGING.has(request.method) || !hasBody(request)) return;
  const allowed = request.routeOptions.config.bodyTypes ?? DEFAULT_BODY_TYPES;
  const type = mediaType(request.headers['content-type']);
  if (type === null || !allowed.includes(type))
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `send the body as ${allowed.join(' or ')}`);
}

/** The routes among these that declare no action, as `METHOD url` lines. */
export function unguarded(routes: readonly RouteOptions[]): string[] {
  return routes
    .filter((r) => !r.config?.action)
    .map((r) => `${Array.isArray(r.method) ? r.method.join(',') : r.method} ${r.url}`);
}

/** Marks every route registered in this context (and below) as public: for plugins whose routes we do not write. */
export function markPublic(route: RouteOptions): void {
  route.config = { ...route.config, action: 'public' };
}

export interface AuthOptions {
  /** Asked per request only, so the store may still be opening while the routes are registered. */
  keys: Pick<KeyStore, 'verify'>;
  failuresPerMinute: number;
  /** Other credential sources (e.g. a console session), tried when the request carries no bearer key. */
  credentials?: (request: FastifyRequest) => Promise<ApiKeyRecord | null>;
}

export const authPlugin = fp(
  async (app: FastifyInstance, opts: AuthOptions) => {
    const failures = failureCounter(opts.failuresPerMinute);
    app.decorateRequest('apiKey', null);
    // Checked once every plugin has registered (a plugin's own onRoute hooks may still mark its routes):
    // the server does not start with an unguarded route.
    const routes: RouteOptions[] = [];
    app.addHook('onRoute', (route) => {
      routes.push(route);
    });
    app.decorate('routeTable', () =>
      routes.flatMap((r) =>
        [r.method].flat().map((method) => ({ method, url: r.url, action: r.config?.action ?? null })),
      ),
    );
    app.addHook('onReady', async () => {
      const missing = unguarded(routes);
      if (missing.length > 0) throw new Error(`routes without config.action: ${missing.join('; ')}`);
    });
    app.addHook('onRequest', async (request) => {
      // No route matched: the not-found handler answers, with nothing behind it to protect.
      if (request.routeOptions.url === undefined) return;
      const action = request.routeOptions.config.action;
      if (!action) throw httpErrors.forbidden('use a route that declares no action');
      if (action === 'public') return refuseCrossSiteBody(request);
      const header = request.headers.authorization;
      let record: ApiKeyRecord | null = null;
      if (header !== undefined) {
        const match = /^Bearer\s+(\S+)$/i.exec(header);
        record = match ? await opts.keys.verify(match[1] as string) : null;
      } else if (opts.credentials) {
        record = await opts.credentials(request);
      }
      if (!record) {
        if (failures.blocked(request.ip)) {
          throw new HttpError(
            429,
            'TOO_MANY_AUTH_FAILURES',
            'too many failed authentications, wait a minute',
          );
        }
        failures.fail(request.ip);
        throw httpErrors.unauthorized();
      }
      request.apiKey = record;
      if (!mayDo(record.role, action)) throw httpErrors.forbidden(action);
      refuseCrossSiteBody(request);
    });
  },
  { name: 'mailsentra-auth' },
);
