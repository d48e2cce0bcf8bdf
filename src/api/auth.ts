/**
 * Bearer-key authentication and role checks. Every /api/v1 route declares `config.action`; the hook refuses
 * a route without one, so a forgotten permission fails closed. Failed attempts are counted per client and
 * refused with 429 past `api.authFailuresPerMinute` (against key guessing).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { LRUCache } from 'lru-cache';
import { HttpError, httpErrors } from '../errors.js';
import type { ApiKeyRecord, KeyStore } from '../store/types.js';
import { type Action, mayDo } from './roles.js';

declare module 'fastify' {
  interface FastifyRequest {
    apiKey: ApiKeyRecord | null;
  }
  interface FastifyContextConfig {
    action?: Action;
  }
}

/**
 * Counts failures per client in fixed one-minute windows. A window is forgotten when it ends, and at most
 * 100 000 clients are tracked (least recently seen dropped first), so guessing from many addresses cannot
 * grow this without bound.
 */
export function failureCounter(limit: number, now: () => number = Date.now) {
  const windows = new LRUCache<string, { start: number; count: number }>({ max: 100_000, ttl: 60_000 });
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

export const authPlugin = fp(
  async (app: FastifyInstance, opts: { keys: KeyStore; failuresPerMinute: number }) => {
    const failures = failureCounter(opts.failuresPerMinute);
    app.decorateRequest('apiKey', null);
    app.addHook('onRequest', async (request) => {
      if (!request.url.startsWith('/api/')) return;
      const action = request.routeOptions.config.action;
      if (!action) {
        // Unknown /api path: let the 404 handler answer, but only after auth, so paths are not probed freely.
        if (request.routeOptions.url !== undefined) throw httpErrors.forbidden('use an undeclared route');
      }
      if (failures.blocked(request.ip)) {
        throw new HttpError(429, 'TOO_MANY_AUTH_FAILURES', 'too many failed authentications, wait a minute');
      }
      const header = request.headers.authorization ?? '';
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      const record = match ? await opts.keys.verify(match[1] as string) : null;
      if (!record) {
        failures.fail(request.ip);
        throw httpErrors.unauthorized();
      }
      request.apiKey = record;
      if (action && !mayDo(record.role, action)) throw httpErrors.forbidden(action);
    });
  },
  { name: 'mailsentra-auth' },
);
