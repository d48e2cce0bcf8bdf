/** Allow/block lists, API keys and the audit log. */
import type { FastifyPluginAsync } from 'fastify';
import { mayDo } from '../../api/roles.js';
import { httpErrors } from '../../errors.js';
import { addListEntry, removeListEntry } from '../../lists/edit.js';
import type { UiSession } from '../../store/sessions.js';
import { html } from '../html.js';
import { csrfField, field, notice, when } from '../layout.js';
import { doneAt, doneNotice, formPost, type PageContent, pageRoute } from '../route.js';
import type { UiDeps } from '../types.js';

export const manageRoutes: FastifyPluginAsync<UiDeps> = async (app, deps) => {
  const { storage, policy } = deps;
  pageRoute(app, '/ui/lists', 'lists:read', async ({ session, query }) => {
    const entries = await storage.lists.all();
    const admin = mayDo(session.key.role, 'lists:write');
    const done = doneNotice(session, query);
    const p = policy.settings;
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
    return {
      title: 'Allow and block lists',
      body: html`${done ? notice(done) : ''}
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
    };
  });
  formPost(app, '/ui/lists', 'lists:write', async ({ body, actor }) => {
    const list = field(body.list);
    if (list !== 'allow' && list !== 'block') throw httpErrors.badRequest('list is allow or block');
    const entry = await addListEntry(
      deps,
      { list, value: field(body.value) ?? '', scope: field(body.scope) ?? 'global' },
      actor,
    );
    return doneAt('/ui/lists', `Added ${entry.value} to ${list}.`);
  });
  formPost(app, '/ui/lists/:id/delete', 'lists:write', async ({ params, actor }) => {
    const entry = await removeListEntry(deps, params.id, actor).catch((err) => {
      throw (err as { code?: string }).code === '22P02' ? httpErrors.notFound('list entry') : err;
    });
    return doneAt('/ui/lists', `Removed ${entry.value}.`);
  });

  async function keysPage(session: UiSession, created: string | null): Promise<PageContent> {
    const keys = await storage.keys.list();
    return {
      title: 'API keys',
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
    };
  }
  pageRoute(app, '/ui/keys', 'keys:read', async ({ session }) => keysPage(session, null));
  formPost(app, '/ui/keys', 'keys:write', async ({ session, body, actor }) => {
    const role = field(body.role);
    if (role !== 'admin' && role !== 'analyst') throw httpErrors.badRequest('role is admin or analyst');
    const { record, key } = await storage.keys.create(role, field(body.label) ?? null);
    await storage.audit.write({ actor, action: 'key.create', target: record.id, details: { role } });
    // Shown in this response only (not through a redirect URL, which browsers keep in their history).
    return keysPage(session, key);
  });
  formPost(app, '/ui/keys/:id/revoke', 'keys:write', async ({ params, actor }) => {
    const ok = await storage.keys.revoke(params.id).catch(() => false);
    if (!ok) throw httpErrors.notFound('active key');
    await storage.audit.write({ actor, action: 'key.revoke', target: params.id, details: {} });
    return '/ui/keys';
  });

  pageRoute(app, '/ui/audit', 'audit:read', async () => {
    const entries = await storage.audit.list(200);
    return {
      title: 'Audit log',
      body: html`<table class="wide"><thead><tr><th>when</th><th>actor</th><th>action</th><th>target</th><th>details</th></tr></thead>
      <tbody>${entries.map(
        (e) =>
          html`<tr><td>${when(e.at)}</td><td>${e.actor}</td><td>${e.action}</td><td>${e.target ?? ''}</td><td><code>${JSON.stringify(e.details)}</code></td></tr>`,
      )}</tbody></table>`,
    };
  });
};
