/** Message log: search (keyset pages), one message's view, its body frame, and spam/ham reports. */
import type { FastifyPluginAsync } from 'fastify';
import { httpErrors } from '../../errors.js';
import { giveFeedback } from '../../pipeline/feedback.js';
import { isListingTime } from '../../store/listing.js';
import type { MessageFilter } from '../../store/types.js';
import { type Html, html } from '../html.js';
import { csrfField, field, nextPageLink, notice, score, when } from '../layout.js';
import { formPost, pageRoute, type Query } from '../route.js';
import type { UiDeps } from '../types.js';
import { bodyFrameRoute, contentSection, parseForView, verdictSection } from '../view.js';

const ACTIONS = ['pass', 'tag', 'quarantine', 'reject', 'tempfail'] as const;

function number(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw httpErrors.badRequest(`${name} is not a number`);
  return n;
}

/** A date, optionally a time (minutes or seconds) and a zone (UTC without one): what a date-time field sends. */
const TIME_FORM =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * A filter's time. Read by its form, not by `new Date` alone: for anything but full ISO 8601, JavaScript's
 * fallback parser guesses (`0000-01-01Z` is the year 2000, `99-01-01Z` 1999), and it reads years up to
 * 275760, which Postgres refuses. Four-digit years, real calendar days.
 */
export function time(name: string, v: string | undefined): Date | undefined {
  if (v === undefined) return undefined;
  const m = TIME_FORM.exec(v.trim());
  const [, y, mo, d, clock, zone] = m ?? [];
  const offset = zone?.toUpperCase().replace(/^([+-]\d{2})(\d{2})$/, '$1:$2') ?? 'Z';
  const date = m ? new Date(`${y}-${mo}-${d}T${clock ?? '00:00'}${offset}`) : null;
  const day = m ? new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d))) : null;
  if (!date || !isListingTime(date) || Number(y) < 1 || day?.getUTCDate() !== Number(d))
    throw httpErrors.badRequest(
      `${name} must be a time such as 2026-12-01T00:00 (UTC), in the years 1 to 9999`,
    );
  return date;
}

export function filterOf(q: Query): MessageFilter {
  const action = field(q.action);
  if (action !== undefined && !(ACTIONS as readonly string[]).includes(action))
    throw httpErrors.badRequest('unknown action');
  const f: MessageFilter = { limit: 50 };
  const set = <K extends keyof MessageFilter>(k: K, v: MessageFilter[K] | undefined) => {
    if (v !== undefined) f[k] = v;
  };
  set('sender', field(q.sender));
  set('recipient', field(q.recipient)?.toLowerCase());
  set('subject', field(q.subject));
  set('action', action as MessageFilter['action']);
  set('minScore', number('minScore', field(q.minScore)));
  set('maxScore', number('maxScore', field(q.maxScore)));
  set('since', time('since', field(q.since)));
  set('until', time('until', field(q.until)));
  set('cursor', field(q.cursor));
  return f;
}

function searchForm(q: Query): Html {
  const input = (name: string, label: string, type = 'text') =>
    html`<label>${label}<input type="${type}" name="${name}" value="${q[name] ?? ''}"${type === 'number' ? html` step="0.001" min="0" max="1"` : ''}></label>`;
  return html`<form method="get" action="/ui/messages" class="filters" role="search">
    ${input('sender', 'Sender')}${input('recipient', 'Recipient')}${input('subject', 'Subject contains')}
    <label>Action<select name="action"><option value="">any</option>${ACTIONS.map(
      (a) => html`<option value="${a}"${q.action === a ? html` selected` : ''}>${a}</option>`,
    )}</select></label>
    ${input('minScore', 'Score ≥', 'number')}${input('maxScore', 'Score ≤', 'number')}
    ${input('since', 'From (UTC)', 'datetime-local')}${input('until', 'Until (UTC)', 'datetime-local')}
    <button type="submit" class="primary">Search</button></form>`;
}

export const messageRoutes: FastifyPluginAsync<UiDeps> = async (app, deps) => {
  const { storage } = deps;

  pageRoute(app, '/ui/messages', 'messages:read', async ({ query: q }) => {
    const result = await storage.messages.list(filterOf(q));
    return {
      title: 'Message log',
      body: html`${searchForm(q)}
      <table class="wide"><thead><tr><th>received</th><th>sender</th><th>recipients</th><th>subject</th><th>score</th><th>action</th></tr></thead>
      <tbody>${result.items.map(
        (
          m,
        ) => html`<tr><td>${when(m.receivedAt)}</td><td>${m.mailFrom || '<>'}</td><td>${m.rcptTo.join(', ')}</td>
          <td><a href="/ui/messages/${m.id}">${m.subject ?? '(no subject)'}</a></td><td>${score(m.score)}</td><td>${m.action}</td></tr>`,
      )}</tbody></table>
      ${result.items.length === 0 ? html`<p>No messages match.</p>` : ''}
      ${nextPageLink('/ui/messages', q, result.nextCursor)}`,
    };
  });

  pageRoute(app, '/ui/messages/:id', 'messages:read', async ({ session, query, params: { id } }) => {
    const m = await storage.messages.get(id).catch(() => null);
    if (!m) throw httpErrors.notFound('message');
    const raw = m.hasRaw ? await storage.messages.getRaw(id) : null;
    const view = raw ? await parseForView(deps.viewer, raw) : null;
    const loadImages = query.images === '1';
    // Only the two words the report redirect writes: any other text would be shown in the console's voice.
    const sent = query.reported === 'spam' || query.reported === 'ham' ? query.reported : null;
    return {
      title: 'Message',
      body: html`${sent ? notice(`Reported as ${sent}.`) : ''}
      ${verdictSection(m)}
      ${
        raw
          ? html`<form method="post" action="/ui/messages/${m.id}/feedback" class="actions">${csrfField(session)}
          <button type="submit" name="label" value="spam">Report as spam</button>
          <button type="submit" name="label" value="ham">Report as not spam</button></form>`
          : ''
      }
      ${contentSection(view, `/ui/messages/${m.id}/body`, loadImages)}`,
    };
  });

  bodyFrameRoute(app, 'messages', deps.viewer, storage.messages);

  formPost(app, '/ui/messages/:id/feedback', 'feedback:write', async ({ params, body, actor }) => {
    const label = field(body.label);
    if (label !== 'spam' && label !== 'ham') throw httpErrors.badRequest('label is spam or ham');
    const raw = await storage.messages.getRaw(params.id).catch(() => null);
    if (!raw) throw httpErrors.notFound('raw bytes of that message (unknown id or past retention)');
    await giveFeedback(deps, { raw, label, messageId: params.id, actor });
    return `/ui/messages/${encodeURIComponent(params.id)}?reported=${label}`;
  });
};
