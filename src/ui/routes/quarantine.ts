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
import { csrfField, field, fields, notice, page, score, when } from '../layout.js';
import { type FormBody, requireSession } from '../plugin.js';
import { FORM } from '../session.js';
import type { UiDeps } from '../types.js';
import { contentSection, parseForView, sendBodyFrame, verdictSection } from '../view.js';
import { time } from './messages.js';

type Query = Record<string, string | undefined>;
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
  const actor = (id: string) => `key:${id}`;

  app.get('/ui/quarantine', { config: { action: 'quarantine:read' } }, async (request, reply) => {
    const session = requireSession(request);
    const q = request.query as Query;
    const result = await storage.quarantine.list(filterOf(q));
    const admin = mayDo(session.key.role, 'quarantine:release');
    const done = field(q.done);
    const next = result.nextCursor
      ? `/ui/quarantine?${new URLSearchParams({ ...Object.fromEntries(Object.entries(q).filter(([, v]) => typeof v === 'string')), cursor: result.nextCursor } as Record<string, string>)}`
      : null;
    return reply.type('text/html; charset=utf-8').send(
      page({
        title: 'Quarantine',
        session,
        body: html`${done ? notice(done) : ''}
        <form method="get" action="/ui/quarantine" class="filters" role="search">
          <label>Recipient<input name="recipient" value="${q.recipient ?? ''}"></label>
          <label>Sender<input name="sender" value="${q.sender ?? ''}"></label>
          <label>Subject contains<input name="subject" value="${q.subject ?? ''}"></label>
          <label>State<select name="state">${STATES.map(
            (s) =>
              html`<option value="${s}"${(q.state ?? 'held') === s ? html` selected` : ''}>${s}</option>`,
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
        ${next ? html`<p><a href="${next}" rel="next">Next page</a></p>` : ''}`,
      }),
    );
  });

  const idsOf = (body: unknown) => {
    const ids = fields((body as FormBody).ids);
    if (ids.length === 0) throw httpErrors.badRequest('select at least one message');
    if (ids.length > 500) throw httpErrors.badRequest('at most 500 messages at once');
    if (!ids.every((id) => UUID.test(id))) throw httpErrors.badRequest('not a message id');
    return ids;
  };
  const back = (text: string) => `/ui/quarantine?done=${encodeURIComponent(text)}`;

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

  app.post(
    '/ui/quarantine/release',
    { config: { action: 'quarantine:release', bodyTypes: FORM } },
    async (request, reply) => {
      const who = actor(requireSession(request).key.id);
      return reply.redirect(back(await releaseMany(idsOf(request.body), who, false)), 303);
    },
  );
  app.post(
    '/ui/quarantine/release-ham',
    { config: { action: 'quarantine:release', bodyTypes: FORM } },
    async (request, reply) => {
      const who = actor(requireSession(request).key.id);
      return reply.redirect(back(await releaseMany(idsOf(request.body), who, true)), 303);
    },
  );
  app.post(
    '/ui/quarantine/delete',
    { config: { action: 'quarantine:delete', bodyTypes: FORM } },
    async (request, reply) => {
      const who = actor(requireSession(request).key.id);
      const changed = await deleteItems(storage, idsOf(request.body), who);
      return reply.redirect(back(`Deleted ${changed.length}.`), 303);
    },
  );
  app.post(
    '/ui/quarantine/report',
    { config: { action: 'feedback:write', bodyTypes: FORM } },
    async (request, reply) => {
      const who = actor(requireSession(request).key.id);
      let n = 0;
      // One report per stored message, however many recipients' rows were selected.
      const seen = new Set<string>();
      for (const id of idsOf(request.body)) {
        const item = await storage.quarantine.get(id).catch(() => null);
        if (!item || seen.has(item.messageId)) continue;
        seen.add(item.messageId);
        const raw = await storage.quarantine.getRaw(id);
        if (!raw) continue;
        await giveFeedback(deps, { raw, label: 'spam', messageId: item.messageId, actor: who });
        n++;
      }
      return reply.redirect(back(`Reported ${n} as spam.`), 303);
    },
  );

  app.get('/ui/quarantine/:id', { config: { action: 'quarantine:read' } }, async (request, reply) => {
    const session = requireSession(request);
    const { id } = request.params as { id: string };
    const item = await storage.quarantine.get(id).catch(() => null);
    if (!item) throw httpErrors.notFound('quarantine item');
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
    const q = request.query as Query;
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
    return reply.type('text/html; charset=utf-8').send(
      page({
        title: 'Quarantined message',
        session,
        body: html`${field(q.done) ? notice(field(q.done)) : ''}
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
      }),
    );
  });

  app.get('/ui/quarantine/:id/body', { config: { action: 'quarantine:read' } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const raw = await storage.quarantine.getRaw(id).catch(() => null);
    if (!raw) throw httpErrors.notFound('quarantined message bytes');
    return sendBodyFrame(reply, deps.viewer, raw, (request.query as Query).images === '1');
  });

  app.post(
    '/ui/quarantine/:id/list',
    { config: { action: 'lists:write', bodyTypes: FORM } },
    async (request, reply) => {
      const session = requireSession(request);
      const { id } = request.params as { id: string };
      const item = await storage.quarantine.get(id).catch(() => null);
      if (!item) throw httpErrors.notFound('quarantine item');
      const body = request.body as FormBody;
      const list = field(body.list);
      if (list !== 'allow' && list !== 'block') throw httpErrors.badRequest('list is allow or block');
      if (!item.mailFrom) throw httpErrors.badRequest('the null sender cannot be listed');
      const value = field(body.what) === 'domain' ? `@${domainOf(item.mailFrom)}` : item.mailFrom;
      const scope = field(body.scope) === 'domain' ? domainOf(item.recipient) : 'global';
      const entry = await addListEntry(deps, { list, value, scope }, actor(session.key.id));
      const text = `${entry.value} is on the ${list} list${scope === 'global' ? '' : ` for ${scope}`}.`;
      return reply.redirect(`/ui/quarantine/${encodeURIComponent(id)}?done=${encodeURIComponent(text)}`, 303);
    },
  );
};
