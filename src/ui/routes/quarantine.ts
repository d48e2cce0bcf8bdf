/**
 * Quarantine: per-recipient rows with filters and select-all; bulk release (optionally learning ham),
 * delete and report as spam; one row's view; allow or block its sender (address or domain, globally or for
 * the recipient's domain) from here.
 */

import type { FastifyPluginAsync } from 'fastify';
import { actorOf } from '../../api/auth.js';
import { mayDo } from '../../api/roles.js';
import { HttpError, httpErrors } from '../../errors.js';
import { addListEntry } from '../../lists/edit.js';
import { domainOf } from '../../lists/entry.js';
import { giveFeedback } from '../../pipeline/feedback.js';
import { deleteItems, releaseItem } from '../../quarantine/actions.js';
import type { QuarantineFilter, QuarantineState } from '../../store/types.js';
import { html } from '../html.js';
import { csrfField, field, fields, nextPageLink, notice, score, when } from '../layout.js';
import type { FormBody } from '../plugin.js';
import { doneAt, doneNotice, formPost, pageRoute, type Query } from '../route.js';
import type { UiDeps } from '../types.js';
import { bodyFrameRoute, contentSection, parseForView, verdictSection } from '../view.js';
import { time } from './messages.js';

const STATES = ['held', 'releasing', 'released', 'deleted'] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function filterOf(q: Query): QuarantineFilter {
  const state = field(q.state) ?? 'held';
  if (!(STATES as readonly string[]).includes(state)) throw httpErrors.badRequest('unknown state');
  const f: QuarantineFilter = { state: state as QuarantineState, limit: 100 };
  const sender = field(q.sender);
  const recipient = field(q.recipient);
  const subject = field(q.subject);
  const since = time('since', field(q.since));
  const cursor = field(q.cursor);
  if (sender) f.sender = sender;
  if (recipient) f.recipient = recipient;
  if (subject) f.subject = subject;
  if (since) f.since = since;
  if (cursor) f.cursor = cursor;
  return f;
}

export const quarantineRoutes: FastifyPluginAsync<UiDeps> = async (app, deps) => {
  const { storage } = deps;

  pageRoute(app, '/ui/quarantine', 'quarantine:read', async ({ session, query: q }) => {
    const result = await storage.quarantine.list(filterOf(q));
    const admin = mayDo(session.key.role, 'quarantine:release');
    const done = doneNotice(session, q);
    return {
      title: 'Quarantine',
      body: html`${done ? notice(done) : ''}
      <form method="get" action="/ui/quarantine" class="filters" role="search">
        <label>Recipient<input name="recipient" value="${q.recipient ?? ''}"></label>
        <label>Sender<input name="sender" value="${q.sender ?? ''}"></label>
        <label>Subject contains<input name="subject" value="${q.subject ?? ''}"></label>
        <label>State<select name="state">${STATES.map(
          (s) => html`<option value="${s}"${(q.state ?? 'held') === s ? html` selected` : ''}>${s}</option>`,
        )}</select></label>
        <button type="submit" class="primary">Filter</button></form>
      <form method="post" action="/ui/quarantine/report" id="bulk">${csrfField(session)}
        <div class="actions">
          ${
            admin
              ? html`<button type="submit" formaction="/ui/quarantine/release">Release</button>
            <button type="submit" formaction="/ui/quarantine/release-ham">Release and learn as ham</button>
            <button type="submit" class="danger" formaction="/ui/quarantine/delete" data-confirm="Delete the selected messages?">Delete</button>`
              : ''
          }
          <button type="submit" formaction="/ui/quarantine/report">Report as spam</button>
        </div>
        <table class="wide"><thead><tr><th><input type="checkbox" data-select-all aria-label="select all"></th>
          <th>received</th><th>recipient</th><th>sender</th><th>subject</th><th>score</th><th>state</th></tr></thead>
        <tbody>${result.items.map(
          (r) => html`<tr><td><input type="checkbox" name="ids" value="${r.id}" aria-label="select"></td>
            <td>${when(r.createdAt)}</td><td>${r.recipient}</td><td>${r.mailFrom || '<>'}</td>
            <td><a href="/ui/quarantine/${r.id}">${r.subject ?? '(no subject)'}</a></td><td>${score(r.score)}</td><td>${r.state}</td></tr>`,
        )}</tbody></table></form>
      ${result.items.length === 0 ? html`<p>Nothing here.</p>` : ''}
      ${nextPageLink('/ui/quarantine', q, result.nextCursor)}`,
    };
  });

  const idsOf = (body: FormBody) => {
    const ids = fields(body.ids);
    if (ids.length === 0) throw httpErrors.badRequest('select at least one message');
    if (ids.length > 500) throw httpErrors.badRequest('at most 500 messages at once');
    if (!ids.every((id) => UUID.test(id))) throw httpErrors.badRequest('not a message id');
    return ids;
  };
  const back = (text: string) => doneAt('/ui/quarantine', text);

  async function releaseMany(ids: string[], who: string, learnAsHam: boolean) {
    let ok = 0;
    const failed: string[] = [];
    for (const id of ids) {
      try {
        await releaseItem(deps, id, who, learnAsHam);
        ok++;
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        failed.push(`${err.code}`);
      }
    }
    return `Released ${ok}${failed.length ? `, ${failed.length} failed (${[...new Set(failed)].join(', ')})` : ''}.`;
  }

  formPost(app, '/ui/quarantine/release', 'quarantine:release', async ({ body, actor }) =>
    back(await releaseMany(idsOf(body), actor, false)),
  );
  formPost(app, '/ui/quarantine/release-ham', 'quarantine:release', async ({ body, actor }) =>
    back(await releaseMany(idsOf(body), actor, true)),
  );
  formPost(app, '/ui/quarantine/delete', 'quarantine:delete', async ({ body, actor }) => {
    const changed = await deleteItems(storage, idsOf(body), actor);
    return back(`Deleted ${changed.length}.`);
  });
  formPost(app, '/ui/quarantine/report', 'feedback:write', async ({ body, actor }) => {
    let n = 0;
    // One report per stored message, however many recipients' rows were selected.
    const seen = new Set<string>();
    for (const id of idsOf(body)) {
      const item = await storage.quarantine.get(id).catch(() => null);
      if (!item || seen.has(item.messageId)) continue;
      seen.add(item.messageId);
      const raw = await storage.quarantine.getRaw(id);
      if (!raw) continue;
      await giveFeedback(deps, { raw, label: 'spam', messageId: item.messageId, actor });
      n++;
    }
    return back(`Reported ${n} as spam.`);
  });

  pageRoute(
    app,
    '/ui/quarantine/:id',
    'quarantine:read',
    async ({ request, session, query: q, params: { id } }) => {
      const item = await storage.quarantine.get(id).catch(() => null);
      if (!item) throw httpErrors.notFound('quarantine item');
      const done = doneNotice(session, q);
      const raw = await storage.quarantine.getRaw(id);
      const view = raw ? await parseForView(deps.viewer, raw) : null;
      // Reading quarantined mail is audited in the console as through the API.
      if (view)
        await storage.audit.write({
          actor: actorOf(request),
          action: 'quarantine.view',
          target: item.id,
          details: { recipient: item.recipient, via: 'console' },
        });
      const logged = await storage.messages.get(item.messageId).catch(() => null);
      const admin = mayDo(session.key.role, 'quarantine:release');
      const senderDomain = item.mailFrom ? domainOf(item.mailFrom) : null;
      const rcptDomain = domainOf(item.recipient);
      const listForm = (list: 'allow' | 'block') =>
        html`<form method="post" action="/ui/quarantine/${item.id}/list" class="actions">${csrfField(session)}
        <input type="hidden" name="list" value="${list}">
        <label>${list === 'allow' ? 'Allow' : 'Block'}<select name="what">
          <option value="address">${item.mailFrom}</option>
          ${senderDomain ? html`<option value="domain">@${senderDomain}</option>` : ''}</select></label>
        <label>for<select name="scope"><option value="global">everyone</option>
          <option value="domain">${rcptDomain} only</option></select></label>
        <button type="submit"${list === 'block' ? html` class="danger"` : ''}>${list === 'allow' ? 'Allow sender' : 'Block sender'}</button></form>`;
      return {
        title: 'Quarantined message',
        body: html`${done ? notice(done) : ''}
      <p>Held for <strong>${item.recipient}</strong> · state <strong>${item.state}</strong> · expires ${when(item.expiresAt)}</p>
      ${
        admin && item.state === 'held'
          ? html`<form method="post" class="actions" action="/ui/quarantine/release">${csrfField(session)}
            <input type="hidden" name="ids" value="${item.id}">
            <button type="submit" class="primary">Release</button>
            <button type="submit" formaction="/ui/quarantine/release-ham">Release and learn as ham</button>
            <button type="submit" class="danger" formaction="/ui/quarantine/delete" data-confirm="Delete this message?">Delete</button></form>`
          : ''
      }
      ${admin && item.mailFrom ? html`${listForm('allow')}${listForm('block')}` : ''}
      ${verdictSection({
        receivedAt: item.createdAt,
        mailFrom: item.mailFrom,
        rcptTo: [item.recipient],
        headerFrom: item.headerFrom,
        subject: item.subject,
        score: item.score,
        action: 'quarantine',
        reason: item.reason,
        modelVersion: logged?.modelVersion ?? null,
        clientIp: logged?.clientIp ?? null,
        clientHelo: logged?.clientHelo ?? null,
        topFeatures: logged?.topFeatures ?? [],
        auth: logged?.auth ?? null,
      })}
      ${contentSection(view, `/ui/quarantine/${item.id}/body`, q.images === '1')}`,
      };
    },
  );

  bodyFrameRoute(app, 'quarantine', deps.viewer, storage.quarantine);

  formPost(app, '/ui/quarantine/:id/list', 'lists:write', async ({ params, body, actor }) => {
    const item = await storage.quarantine.get(params.id).catch(() => null);
    if (!item) throw httpErrors.notFound('quarantine item');
    const list = field(body.list);
    if (list !== 'allow' && list !== 'block') throw httpErrors.badRequest('list is allow or block');
    if (!item.mailFrom) throw httpErrors.badRequest('the null sender cannot be listed');
    const value = field(body.what) === 'domain' ? `@${domainOf(item.mailFrom)}` : item.mailFrom;
    const scope = field(body.scope) === 'domain' ? domainOf(item.recipient) : 'global';
    const entry = await addListEntry(deps, { list, value, scope }, actor);
    const text = `${entry.value} is on the ${list} list${scope === 'global' ? '' : ` for ${scope}`}.`;
    return doneAt(`/ui/quarantine/${encodeURIComponent(params.id)}`, text);
  });
};
