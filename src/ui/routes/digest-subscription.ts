/**
 * A recipient's own digest preference, from the subscription link in each digest (no account):
 * `GET /ui/d/subscription/<token>` shows the current setting and a button; only a POST changes it, so a link
 * scanner's prefetch unsubscribes no one. The same URL is the digest's `List-Unsubscribe` target, and an RFC
 * 8058 one-click POST (`List-Unsubscribe=One-Click`, form or multipart body, sent by the mail provider
 * without cookies or Origin) opts out. A POST with `digests=on` opts back in.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { setDigestPreference } from '../../digest/preference.js';
import type { SubscriptionClaim } from '../../digest/token.js';
import { httpErrors } from '../../errors.js';
import type { DigestPreference } from '../../store/digest.js';
import { type Html, html } from '../html.js';
import { field, when } from '../layout.js';
import type { FormBody } from '../plugin.js';
import { sendPage } from '../route.js';
import { FORM } from '../session.js';
import type { UiDeps } from '../types.js';
import { claimOf, tokenMisused } from './digest.js';

/** RFC 8058 lets the one-click POST be multipart; its fields are not needed (the POST itself opts out). */
const MULTIPART = 'multipart/form-data';

function subscriptionBody(token: string, p: DigestPreference, done: string | null) {
  return html`${done ? html`<p class="notice" role="status">${done}</p>` : ''}
    <dl class="kv"><dt>For</dt><dd>${p.recipient}</dd>
      <dt>Quarantine digests</dt><dd>${p.enabled ? 'on' : 'off'}</dd>
      <dt>Last digest</dt><dd>${when(p.lastSentAt)}</dd></dl>
    <form method="post" action="/ui/d/subscription/${token}"><p>
      <input type="hidden" name="digests" value="${p.enabled ? 'off' : 'on'}">
      <button type="submit" class="${p.enabled ? 'danger' : 'primary'}">${
        p.enabled ? 'Unsubscribe from digests' : 'Send me digests again'
      }</button></p></form>
    <p>Mail held for you stays in the quarantine either way; without digests, ask your administrator to release it.</p>`;
}

export const digestSubscriptionRoutes: FastifyPluginAsync<UiDeps> = async (app, deps) => {
  const { storage } = deps;
  app.addContentTypeParser(MULTIPART, { parseAs: 'string', bodyLimit: 16 * 1024 }, (_req, _body, done) =>
    done(null, {}),
  );

  function resolve(request: FastifyRequest): { claim: SubscriptionClaim; token: string } {
    const { token } = request.params as { token: string };
    const claim = claimOf(deps.signingKey, token);
    if (claim.act !== 'digests') throw tokenMisused();
    return { claim, token };
  }

  const send = (reply: FastifyReply, title: string, body: Html) => sendPage(reply, null, { title, body });

  app.get('/ui/d/subscription/:token', { config: { action: 'public' } }, async (request, reply) => {
    const { claim, token } = resolve(request);
    const pref = await storage.digest.preference(claim.to);
    return send(reply, 'Quarantine digests', subscriptionBody(token, pref, null));
  });

  app.post(
    '/ui/d/subscription/:token',
    { config: { action: 'public', bodyTypes: [...FORM, MULTIPART] } },
    async (request, reply) => {
      const { claim, token } = resolve(request);
      const asked = field((request.body as FormBody | undefined)?.digests);
      if (asked !== undefined && asked !== 'on' && asked !== 'off')
        throw httpErrors.badRequest('digests is on or off');
      const enabled = asked === 'on';
      const pref = await setDigestPreference(storage, { recipient: claim.to, enabled }, `digest:${claim.to}`);
      const done = enabled
        ? 'Digests are on again: the next one lists what was held since the last.'
        : 'Unsubscribed: no more quarantine digests will be sent to you.';
      return send(reply, 'Quarantine digests', subscriptionBody(token, pref, done));
    },
  );
};
