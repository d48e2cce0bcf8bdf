/**
 * How a console route is declared: by what differs. A page names its path, its action of the role table and
 * what it shows; a form POST its path, action and what it does. The plugin's hooks (./plugin.ts) have
 * already checked the role and, for a POST, the origin and the CSRF token before a handler runs; these add
 * the signed-in session, the query or the parsed form, the route's params and the audit actor, and send the
 * page in the console's frame. A form POST answers a returned path with a 303 redirect, so that reloading
 * the page the browser lands on posts nothing again; it may answer with a page instead (a new key, shown
 * once; a refusal with a form to override it).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Action } from '../api/roles.js';
import type { UiSession } from '../store/sessions.js';
import type { HtmlValue } from './html.js';
import { page } from './layout.js';
import { type FormBody, requireSession } from './plugin.js';
import { FORM } from './session.js';

/** The params a route path declares: `'/ui/keys/:id/revoke'` gives `{ id: string }`. */
export type ParamsOf<Url extends string> = Url extends `${string}:${infer Name}/${infer Rest}`
  ? { [K in Name]: string } & ParamsOf<`/${Rest}`>
  : Url extends `${string}:${infer Name}`
    ? { [K in Name]: string }
    : Record<never, string>;

export type Query = Record<string, string | undefined>;

interface RouteContext<Url extends string> {
  request: FastifyRequest;
  session: UiSession;
  params: ParamsOf<Url>;
}

export interface PageContext<Url extends string> extends RouteContext<Url> {
  query: Query;
}

export interface FormPost<Url extends string> extends RouteContext<Url> {
  body: FormBody;
  /** Who the audit log and the feedback ledger name: the signed-in key. */
  actor: string;
}

/** A page's title and body, sent in the console's frame; `status` when it is not a 200. */
export interface PageContent {
  title: string;
  body: HtmlValue;
  status?: number;
}

export function sendPage(reply: FastifyReply, session: UiSession | null, content: PageContent): FastifyReply {
  return reply
    .code(content.status ?? 200)
    .type('text/html; charset=utf-8')
    .send(page({ title: content.title, session, body: content.body }));
}

function contextOf<Url extends string>(request: FastifyRequest): RouteContext<Url> {
  return {
    request,
    session: requireSession(request),
    // Fastify matched the route's path, so the params it parsed are the ones the path declares.
    params: request.params as ParamsOf<Url>,
  };
}

/** A page for the signed-in. */
export function pageRoute<Url extends string>(
  app: FastifyInstance,
  url: Url,
  action: Action,
  show: (context: PageContext<Url>) => Promise<PageContent>,
): void {
  app.get(url, { config: { action } }, async (request, reply) => {
    const context = contextOf<Url>(request);
    const content = await show({ ...context, query: request.query as Query });
    return sendPage(reply, context.session, content);
  });
}

/** A form POST's answer: the path to redirect to, or a page. */
export type FormOutcome = string | PageContent;

export function formPost<Url extends string>(
  app: FastifyInstance,
  url: Url,
  action: Action,
  handle: (post: FormPost<Url>) => Promise<FormOutcome>,
): void {
  app.post(url, { config: { action, bodyTypes: FORM } }, async (request, reply) => {
    const context = contextOf<Url>(request);
    const body = (request.body ?? {}) as FormBody;
    const outcome = await handle({ ...context, body, actor: `key:${context.session.key.id}` });
    return typeof outcome === 'string'
      ? reply.redirect(withNoticeMac(outcome, context.session), 303)
      : sendPage(reply, context.session, outcome);
  });
}

/** The page at `path`, with a notice saying what was done. */
export function doneAt(path: string, text: string): string {
  return `${path}?done=${encodeURIComponent(text)}`;
}

/**
 * A notice is the service's own words only when it carries their MAC under the session's CSRF secret: a link
 * that anyone can write (`/ui/lists?done=Session expired: sign in at https://…`) must not show its text in the
 * console's voice.
 */
const noticeMac = (session: UiSession, text: string) =>
  createHmac('sha256', session.csrf).update(text).digest('base64url');

function withNoticeMac(location: string, session: UiSession): string {
  const url = new URL(location, 'http://console.invalid');
  const done = url.searchParams.get('done');
  if (done === null) return location;
  url.searchParams.set('n', noticeMac(session, done));
  return `${url.pathname}${url.search}`;
}

/** The notice a redirect after a form post carries (`doneAt`), or null when there is none or it is forged. */
export function doneNotice(session: UiSession, query: Query): string | null {
  const done = typeof query.done === 'string' ? query.done : null;
  const mac = typeof query.n === 'string' ? Buffer.from(query.n) : null;
  if (done === null || mac === null) return null;
  const want = Buffer.from(noticeMac(session, done));
  return mac.length === want.length && timingSafeEqual(mac, want) ? done : null;
}
