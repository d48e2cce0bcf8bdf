/**
 * Recipients' digest preferences in the console: who opted out, and (admin) switching a recipient's
 * digests off or on again, through the same `setDigestPreference` as the API and the recipient's own link.
 */
import type { FastifyPluginAsync } from 'fastify';
import { mayDo } from '../../api/roles.js';
import { setDigestPreference } from '../../digest/preference.js';
import { httpErrors } from '../../errors.js';
import { html } from '../html.js';
import { csrfField, field, notice, when } from '../layout.js';
import { doneAt, doneNotice, formPost, pageRoute } from '../route.js';
import type { UiDeps } from '../types.js';

export const digestRecipientRoutes: FastifyPluginAsync<UiDeps> = async (app, deps) => {
  const { storage } = deps;

  pageRoute(app, '/ui/digest', 'digest:read', async ({ session, query }) => {
    const admin = mayDo(session.key.role, 'digest:write');
    const optedOut = await storage.digest.optedOut(1000);
    const done = doneNotice(session, query);
    const toggle = (recipient: string, enabled: boolean, label: string) =>
      html`<form method="post" action="/ui/digest" class="actions">${csrfField(session)}
        <input type="hidden" name="recipient" value="${recipient}"><input type="hidden" name="digests" value="${enabled ? 'on' : 'off'}">
        <button type="submit">${label}</button></form>`;
    return {
      title: 'Digest recipients',
      body: html`${done ? notice(done) : ''}
      <p>Recipients who unsubscribed from quarantine digests (through their digest's link, or set here) get
        none until switched on again.</p>
      ${
        admin
          ? html`<form method="post" action="/ui/digest" class="filters">${csrfField(session)}
            <label>Recipient<input name="recipient" type="email" required></label>
            <label>Digests<select name="digests"><option value="off">off</option><option value="on">on</option></select></label>
            <button type="submit" class="primary">Set</button></form>`
          : ''
      }
      <table class="wide"><thead><tr><th>recipient</th><th>last digest</th>${admin ? html`<th></th>` : ''}</tr></thead>
      <tbody>${optedOut.map(
        (p) => html`<tr><td>${p.recipient}</td><td>${when(p.lastSentAt)}</td>
          ${admin ? html`<td>${toggle(p.recipient, true, 'Turn digests on')}</td>` : ''}</tr>`,
      )}</tbody></table>
      ${optedOut.length === 0 ? html`<p>No recipient has opted out.</p>` : ''}`,
    };
  });

  formPost(app, '/ui/digest', 'digest:write', async ({ body, actor }) => {
    const digests = field(body.digests);
    if (digests !== 'on' && digests !== 'off') throw httpErrors.badRequest('digests is on or off');
    const pref = await setDigestPreference(
      storage,
      { recipient: field(body.recipient) ?? '', enabled: digests === 'on' },
      actor,
    );
    return doneAt('/ui/digest', `Digests for ${pref.recipient} are ${pref.enabled ? 'on' : 'off'}.`);
  });
};
