/** The console's page frame and small formatting helpers. Everything goes through `html` (escaped). */
import { mayDo } from '../api/roles.js';
import type { UiSession } from '../store/sessions.js';
import { type Html, type HtmlValue, html } from './html.js';

const NAV: { href: string; label: string; action: Parameters<typeof mayDo>[1] }[] = [
  { href: '/ui', label: 'Overview', action: 'messages:read' },
  { href: '/ui/messages', label: 'Message log', action: 'messages:read' },
  { href: '/ui/quarantine', label: 'Quarantine', action: 'quarantine:read' },
  { href: '/ui/lists', label: 'Allow/block', action: 'lists:read' },
  { href: '/ui/digest', label: 'Digests', action: 'digest:read' },
  { href: '/ui/models', label: 'Models', action: 'models:read' },
  { href: '/ui/keys', label: 'API keys', action: 'keys:read' },
  { href: '/ui/audit', label: 'Audit log', action: 'audit:read' },
];

export function csrfField(session: UiSession): Html {
  return html`<input type="hidden" name="_csrf" value="${session.csrf}">`;
}

export function page(options: { title: string; session: UiSession | null; body: HtmlValue }): string {
  const { session } = options;
  const nav = session
    ? html`<nav aria-label="main"><ul>${NAV.filter((n) => mayDo(session.key.role, n.action)).map(
        (n) => html`<li><a href="${n.href}">${n.label}</a></li>`,
      )}</ul>
      <form method="post" action="/ui/logout" class="signout">${csrfField(session)}
        <span class="role">${session.key.role}</span> <button type="submit">Sign out</button></form></nav>`
    : '';
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · MailSentra</title><link rel="stylesheet" href="/ui/static/console.css">
<script src="/ui/static/console.js" defer></script></head>
<body><header><a class="brand" href="/ui">MailSentra</a>${nav}</header>
<main id="main"><h1>${options.title}</h1>${options.body}</main></body></html>`.value;
}

export function when(date: Date | null): string {
  return date ? date.toISOString().replace('T', ' ').slice(0, 19) : '—';
}

export function score(value: number | null): string {
  return value === null ? '—' : value.toFixed(3);
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Reads an optional form/query field: absent or blank is undefined; a repeated field takes the first. */
export function field(value: unknown): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

export function fields(value: unknown): string[] {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.filter((v): v is string => typeof v === 'string' && v.length > 0);
}

export function notice(text: HtmlValue, kind: 'ok' | 'error' = 'ok'): Html {
  return html`<p class="notice ${kind}" role="status">${text}</p>`;
}

/** The link to a keyset-paged list's next page: the same query with the next cursor; none on the last page. */
export function nextPageLink(path: string, query: Record<string, unknown>, cursor: string | null): Html | '' {
  if (!cursor) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (typeof v === 'string') params.set(k, v);
  params.set('cursor', cursor);
  return html`<p><a href="${path}?${params.toString()}" rel="next">Next page</a></p>`;
}
