/**
 * The web console under /ui: server-rendered pages, a session from an API key (./session.ts), the same role
 * table as the API. Registered as an encapsulated plugin, so its form-body parser, error page and headers
 * apply to /ui only and the API keeps its JSON-only rule.
 *
 * Every /ui route declares `config.action` like the API's routes: an action of the role table, or 'public'
 * (sign-in, digest links). The API's auth hook decides access, with the console session as a credential
 * source (./session.ts). State changes are POSTs of application/x-www-form-urlencoded (or no body); each
 * must be same-origin, and each but the public ones must carry the session's CSRF token.
 */
import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { failureCounter } from '../api/auth.js';
import { errorBody } from '../api/server.js';
import type { UiSession } from '../store/sessions.js';
import { html } from './html.js';
import { page } from './layout.js';
import { authRoutes } from './routes/auth.js';
import { digestRoutes } from './routes/digest.js';
import { digestRecipientRoutes } from './routes/digest-recipients.js';
import { digestSubscriptionRoutes } from './routes/digest-subscription.js';
import { manageRoutes } from './routes/manage.js';
import { messageRoutes } from './routes/messages.js';
import { modelRoutes } from './routes/models.js';
import { overviewRoutes } from './routes/overview.js';
import { quarantineRoutes } from './routes/quarantine.js';
import { assertCsrf, assertSameOrigin, sessionOf, uiErrors } from './session.js';
import { CONSOLE_CSS, CONSOLE_JS } from './static.js';
import type { UiDeps } from './types.js';

declare module 'fastify' {
  interface FastifyRequest {
    uiSession: UiSession | null;
  }
}

/** The console's pages: no script but our own, no frames but our own body frames, forms only to us. */
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export type FormBody = Record<string, string | string[]>;

function parseForm(text: string): FormBody {
  const out: FormBody = {};
  for (const [k, v] of new URLSearchParams(text)) {
    const cur = out[k];
    if (cur === undefined) out[k] = v;
    else if (Array.isArray(cur)) cur.push(v);
    else out[k] = [cur, v];
  }
  return out;
}

export function requireSession(request: FastifyRequest): UiSession {
  if (!request.uiSession) throw uiErrors.signInRequired();
  return request.uiSession;
}

export const uiPlugin: FastifyPluginAsync<UiDeps> = async (app: FastifyInstance, deps) => {
  const loginFailures = failureCounter(deps.config.api.authFailuresPerMinute);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 256 * 1024 },
    (_req, body, done) => done(null, parseForm(body as string)),
  );

  // Public pages show who is signed in (the auth hook looked the session up for the others).
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.action === 'public' && request.uiSession === null)
      request.uiSession = await sessionOf(deps.storage.sessions, request);
  });

  app.addHook('preHandler', async (request) => {
    if (request.method === 'GET' || request.method === 'HEAD') return;
    assertSameOrigin(request);
    if (request.routeOptions.config.action === 'public') return;
    assertCsrf(requireSession(request), (request.body as FormBody | undefined)?._csrf);
  });

  app.addHook('onSend', async (_request, reply, payload) => {
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', PAGE_CSP);
    // Pages are never stored; the static stylesheet and script say how long they may be kept.
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    // Digest links carry their token in the path: never hand it to another site. (Not no-referrer: with it,
    // browsers send `Origin: null` on our own form posts, which the same-origin check must refuse.)
    reply.header('referrer-policy', 'same-origin');
    return payload;
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const body = errorBody(err);
    if (body.status >= 500) request.log.error({ err, event: 'UI_ERROR' }, 'console request failed');
    if (body.status === 401 && request.method === 'GET') return reply.redirect('/ui/login', 303);
    return reply
      .code(body.status)
      .type('text/html; charset=utf-8')
      .send(
        page({
          title: body.status === 403 ? 'Not allowed' : 'Something is wrong',
          session: request.uiSession,
          body: html`<p class="notice error" role="alert"><strong>${body.error}</strong>: ${body.message}</p>
            <p><a href="/ui">Back to the console</a></p>`,
        }),
      );
  });

  app.get('/ui/static/console.css', { config: { action: 'public' } }, async (_r, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'max-age=3600').send(CONSOLE_CSS),
  );
  app.get('/ui/static/console.js', { config: { action: 'public' } }, async (_r, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'max-age=3600').send(CONSOLE_JS),
  );

  await app.register(authRoutes, { ...deps, loginFailures });
  await app.register(overviewRoutes, deps);
  await app.register(messageRoutes, deps);
  await app.register(quarantineRoutes, deps);
  await app.register(manageRoutes, deps);
  await app.register(modelRoutes, deps);
  await app.register(digestRoutes, deps);
  await app.register(digestSubscriptionRoutes, deps);
  await app.register(digestRecipientRoutes, deps);
};
