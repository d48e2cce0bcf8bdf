/** Sign-in with an API key (it becomes a session; the key itself is never kept in the browser), sign-out. */
import type { FastifyPluginAsync } from 'fastify';
import type { failureCounter } from '../../api/auth.js';
import { HttpError } from '../../errors.js';
import { html } from '../html.js';
import { field, page } from '../layout.js';
import type { FormBody } from '../plugin.js';
import { FORM, signIn, signOut } from '../session.js';
import type { UiDeps } from '../types.js';

function loginPage(error: string | null): string {
  return page({
    title: 'Sign in',
    session: null,
    body: html`${error ? html`<p class="notice error" role="alert">${error}</p>` : ''}
      <form method="post" action="/ui/login" class="login">
        <label>API key <input type="password" name="key" autocomplete="current-password" required autofocus></label>
        <p><button type="submit" class="primary">Sign in</button></p>
      </form>
      <p>Keys are made with <code>mailsentra apikey create --role admin|analyst</code>.</p>`,
  });
}

export const authRoutes: FastifyPluginAsync<
  UiDeps & { loginFailures: ReturnType<typeof failureCounter> }
> = async (app, deps) => {
  app.get('/', { config: { action: 'public' }, schema: { hide: true } }, async (_r, reply) =>
    reply.redirect('/ui', 303),
  );
  app.get('/ui/login', { config: { action: 'public' } }, async (request, reply) => {
    if (request.uiSession) return reply.redirect('/ui', 303);
    return reply.type('text/html; charset=utf-8').send(loginPage(null));
  });
  app.post('/ui/login', { config: { action: 'public', bodyTypes: FORM } }, async (request, reply) => {
    const key = field((request.body as FormBody | undefined)?.key);
    const record = key ? await deps.storage.keys.verify(key) : null;
    // As the API's keys: a valid key is always served, and an address past its failures gets 429 for any
    // other (the sign-in counts against api.authFailuresPerMinute like a failed API key).
    if (!record) {
      if (deps.loginFailures.blocked(request.ip))
        throw new HttpError(429, 'TOO_MANY_AUTH_FAILURES', 'too many failed sign-ins, wait a minute');
      deps.loginFailures.fail(request.ip);
      return reply.code(401).type('text/html; charset=utf-8').send(loginPage('That key is not valid.'));
    }
    await signIn(deps.storage.sessions, reply, record, {
      ttlMs: deps.config.ui.sessionHours * 3_600_000,
      secure: request.protocol === 'https',
    });
    await deps.storage.audit.write({
      actor: `key:${record.id}`,
      action: 'ui.signin',
      target: null,
      details: { ip: request.ip },
    });
    return reply.redirect('/ui', 303);
  });
  app.post('/ui/logout', { config: { action: 'messages:read', bodyTypes: FORM } }, async (request, reply) => {
    await signOut(deps.storage.sessions, request, reply);
    return reply.redirect('/ui/login', 303);
  });
};
