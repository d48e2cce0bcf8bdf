/** Allow/block lists, API keys and the audit log. */
import type { FastifyPluginAsync } from 'fastify';
import { mayDo } from '../../api/roles.js';
import { httpErrors } from '../../errors.js';
import { addListEntry, removeListEntry } from '../../lists/edit.js';
import { html } from '../html.js';
import { csrfField, field, notice, page, when } from '../layout.js';
import { type FormBody, requireSession } from '../plugin.js';
import { FORM } from '../session.js';
import type { UiDeps } from '../types.js';

type Query = Record<string, string | undefined>;

export const manageRoutes: FastifyPluginAsync<UiDeps> = async (app, deps) => {
  const { storage, config } = deps;
  const send = (reply: { type(t: string): { send(b: string): unknown } }, body: string) =>
    reply.type('text/html; charset=utf-8').send(body);

  app.get('/ui/lists', { config: { action: 'lists:read' } }, async (request, reply) => {
    const session = requireSession(request);
    const entries = await storage.lists.all();
    const admin = mayDo(session.key.role, 'lists:write');
    const p = config.policy;
    const fromConfig = [
      ...p.blockSenders.map((v) => ['block', v]),
      ...p.blockClients.map((v) => ['block', v]),
      ...p.allowSenders.map((v) =>
        typeof v === 'string'
          ? ['allow', v]
          : ['allow', `${v.sender}${v.alignedOnly === false ? '' : ' (aligned only)'}`],
      ),
      ...p.allowClients.map((v) => ['allow', v]),
    ];
    return send(
      reply,
      page({
        title: 'Allow and block lists',
        session,
        body: html`${field((request.query as Query).done) ? notice(field((request.query as Query).done)) : ''}
        <p>Block entries win over allow entries. A domain-scoped entry decides only mail whose recipients are all
          in that domain. See docs/console.md.</p>
        ${
          admin
            ? html`<form method="post" action="/ui/lists" class="filters">${csrfField(session)}
            <label>List<select name="list"><option value="block">block</option><option value="allow">allow</option></select></label>
            <label>Sender, @domain or network<input name="value" required></label>
            <label>Scope (global or a recipient domain)<input name="scope" value="global"></label>
            <button type="submit" class="primary">Add</button></form>`
            : ''
        }
        <table class="wide"><thead><tr><th>list</th><th>kind</th><th>entry</th><th>scope</th><th>aligned only</th><th>added</th><th></th></tr></thead>
        <tbody>${entries.map(
          (
            e,
          ) => html`<tr><td>${e.list}</td><td>${e.kind}</td><td>${e.value}</td><td>${e.scope}</td><td>${e.alignedOnly ? 'yes' : 'no'}</td>
            <td>${when(e.createdAt)} by ${e.createdBy}</td><td>${
              admin
                ? html`<form method="post" action="/ui/lists/${e.id}/delete">${csrfField(session)}<button type="submit" class="danger">Remove</button></form>`
                : ''
            }</td></tr>`,
        )}</tbody></table>
        <h2>From the configuration (read-only)</h2>
        <table><tbody>${fromConfig.map(([l, v]) => html`<tr><td>${l}</td><td>${v}</td></tr>`)}</tbody></table>`,
      }),
    );
  });
  app.post('/ui/lists', { config: { action: 'lists:write', bodyTypes: FORM } }, async (request, reply) => {
    const session = requireSession(request);
    const body = request.body as FormBody;
    const list = field(body.list);
    if (list !== 'allow' && list !== 'block') throw httpErrors.badRequest('list is allow or block');
    const entry = await addListEntry(
      deps,
      { list, value: field(body.value) ?? '', scope: field(body.scope) ?? 'global' },
      `key:${session.key.id}`,
    );
    return reply.redirect(`/ui/lists?done=${encodeURIComponent(`Added ${entry.value} to ${list}.`)}`, 303);
  });
  app.post(
    '/ui/lists/:id/delete',
    { config: { action: 'lists:write', bodyTypes: FORM } },
    async (request, reply) => {
      const session = requireSession(request);
      const { id } = request.params as { id: string };
      const entry = await removeListEntry(deps, id, `key:${session.key.id}`).catch((err) => {
        throw (err as { code?: string }).code === '22P02' ? httpErrors.notFound('list entry') : err;
      });
      return reply.redirect(`/ui/lists?done=${encodeURIComponent(`Removed ${entry.value}.`)}`, 303);
    },
  );

  async function keysPage(session: ReturnType<typeof requireSession>, created: string | null) {
    const keys = await storage.keys.list();
    return page({
      title: 'API keys',
      session,
      body: html`${created ? notice(html`New key (shown once): <code>${created}</code>`) : ''}
        <form method="post" action="/ui/keys" class="filters">${csrfField(session)}
          <label>Role<select name="role"><option value="analyst">analyst</option><option value="admin">admin</option></select></label>
          <label>Label<input name="label" maxlength="200"></label><button type="submit" class="primary">Create key</button></form>
        <table class="wide"><thead><tr><th>label</th><th>role</th><th>created</th><th>last used</th><th>revoked</th><th></th></tr></thead>
        <tbody>${keys.map(
          (
            k,
          ) => html`<tr><td>${k.label ?? ''}</td><td>${k.role}</td><td>${when(k.createdAt)}</td><td>${when(k.lastUsedAt)}</td><td>${when(k.revokedAt)}</td>
            <td>${k.revokedAt ? '' : html`<form method="post" action="/ui/keys/${k.id}/revoke">${csrfField(session)}<button type="submit" class="danger" data-confirm="Revoke this key?">Revoke</button></form>`}</td></tr>`,
        )}</tbody></table>`,
    });
  }
  app.get('/ui/keys', { config: { action: 'keys:read' } }, async (request, reply) =>
    send(reply, await keysPage(requireSession(request), null)),
  );
  app.post('/ui/keys', { config: { action: 'keys:write', bodyTypes: FORM } }, async (request, reply) => {
    const session = requireSession(request);
    const body = request.body as FormBody;
    const role = field(body.role);
    if (role !== 'admin' && role !== 'analyst') throw httpErrors.badRequest('role is admin or analyst');
    const { record, key } = await storage.keys.create(role, field(body.label) ?? null);
    await storage.audit.write({
      actor: `key:${session.key.id}`,
      action: 'key.create',
      target: record.id,
      details: { role },
    });
    // Shown in this response only (not through a redirect URL, which browsers keep in their history).
    return send(reply, await keysPage(session, key));
  });
  app.post(
    '/ui/keys/:id/revoke',
    { config: { action: 'keys:write', bodyTypes: FORM } },
    async (request, reply) => {
      const session = requireSession(request);
      const { id } = request.params as { id: string };
      const ok = await storage.keys.revoke(id).catch(() => false);
      if (!ok) throw httpErrors.notFound('active key');
      await storage.audit.write({
        actor: `key:${session.key.id}`,
        action: 'key.revoke',
        target: id,
        details: {},
      });
      return reply.redirect('/ui/keys', 303);
    },
  );

  app.get('/ui/audit', { config: { action: 'audit:read' } }, async (request, reply) => {
    const session = requireSession(request);
    const entries = await storage.audit.list(200);
    return send(
      reply,
      page({
        title: 'Audit log',
        session,
        body: html`<table class="wide"><thead><tr><th>when</th><th>actor</th><th>action</th><th>target</th><th>details</th></tr></thead>
        <tbody>${entries.map(
          (e) =>
            html`<tr><td>${when(e.at)}</td><td>${e.actor}</td><td>${e.action}</td><td>${e.target ?? ''}</td><td><code>${JSON.stringify(e.details)}</code></td></tr>`,
        )}</tbody></table>`,
      }),
    );
  });
};
