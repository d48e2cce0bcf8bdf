/**
 * One message as the console shows it (logged or quarantined): verdict, evidence, envelope, headers, the text
 * part as text, the HTML part in a sandboxed frame served by a separate route (./message-body.ts), and the
 * attachments by name, type and size. Every value from the message is escaped.
 */
import type { FastifyInstance } from 'fastify';
import type { MessageViewer } from '../api/view/message-view.js';
import type { AuthRecord } from '../auth/types.js';
import { httpErrors } from '../errors.js';
import { type Html, type HtmlValue, html } from './html.js';
import { bytes, score, when } from './layout.js';
import { bodyCsp, bodyDocument, safeHtml } from './message-body.js';

export interface ParsedView {
  headers: { key: string; value: string }[];
  text: string | null;
  hasHtml: boolean;
  html: string | null;
  attachments: { filename: string | null; contentType: string; size: number }[];
}

/** Parsed on the viewer's worker thread, with its byte cap and deadline: a large message never stalls mail. */
export async function parseForView(viewer: MessageViewer, raw: Buffer): Promise<ParsedView> {
  const v = await viewer.view(raw, { html: true });
  return {
    headers: v.headerLines,
    text: v.text,
    hasHtml: v.html !== null,
    html: v.html,
    attachments: v.attachments,
  };
}

/**
 * The route `/ui/<area>/:id/body` of a message's body frame (`?images=1` loads remote images): the message's
 * HTML, sanitised, under the sandboxing CSP. The area's store gives the bytes, or null once they are gone.
 */
export function bodyFrameRoute(
  app: FastifyInstance,
  area: 'messages' | 'quarantine',
  viewer: MessageViewer,
  store: { getRaw(id: string): Promise<Buffer | null> },
): void {
  app.get(`/ui/${area}/:id/body`, { config: { action: `${area}:read` } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const raw = await store.getRaw(id).catch(() => null);
    if (!raw) throw httpErrors.notFound('message bytes');
    const loadImages = (request.query as Record<string, string | undefined>).images === '1';
    const view = await parseForView(viewer, raw);
    return reply
      .header('content-security-policy', bodyCsp(loadImages))
      .type('text/html; charset=utf-8')
      .send(bodyDocument(safeHtml(view.html ?? '', { loadImages })));
  });
}

export interface VerdictFacts {
  receivedAt: Date;
  mailFrom: string;
  rcptTo: string[];
  headerFrom: string | null;
  subject: string | null;
  score: number | null;
  action: string;
  reason: string;
  modelVersion: string | null;
  clientIp: string | null;
  clientHelo: string | null;
  topFeatures: { feature: string; weight: number }[];
  /** Sender authentication as logged; null when it did not run. */
  auth?: AuthRecord | null;
}

/** SPF, DKIM, DMARC and ARC as the verdict log kept them; the names and descriptions are escaped like any text. */
export function authSection(auth: AuthRecord | null): Html {
  if (!auth) return html`<h2>Sender authentication</h2><p>Not verified for this message.</p>`;
  const methods = [
    ['SPF', auth.spf],
    ['DKIM', auth.dkim],
    ['DMARC', `${auth.dmarc}${auth.dmarcPolicy ? ` (policy ${auth.dmarcPolicy})` : ''}`],
    ['ARC', auth.arc],
  ] as const;
  return html`<h2>Sender authentication</h2>
    <table class="auth"><tbody>${methods.map(
      ([name, result]) => html`<tr><th>${name}</th><td>${result}</td></tr>`,
    )}<tr><th>From domain</th><td>${auth.fromDomain ?? '—'}</td></tr></tbody></table>
    ${
      auth.signals.length
        ? html`<ul class="signals">${auth.signals.map((s) => html`<li><code>${s.name}</code> ${s.description}</li>`)}</ul>`
        : ''
    }`;
}

export function verdictSection(f: VerdictFacts): Html {
  return html`<dl class="kv">
    <dt>Subject</dt><dd>${f.subject ?? '(none)'}</dd>
    <dt>From (header)</dt><dd>${f.headerFrom ?? '—'}</dd>
    <dt>Envelope sender</dt><dd>${f.mailFrom || '<>'}</dd>
    <dt>Recipients</dt><dd>${f.rcptTo.join(', ')}</dd>
    <dt>Received</dt><dd>${when(f.receivedAt)}</dd>
    <dt>Client</dt><dd>${f.clientIp ?? '—'} ${f.clientHelo ? `(${f.clientHelo})` : ''}</dd>
    <dt>Verdict</dt><dd><strong>${f.action}</strong>, score ${score(f.score)}, model ${f.modelVersion ?? '—'}</dd>
    <dt>Why</dt><dd>${f.reason}</dd>
  </dl>
  ${
    f.topFeatures.length
      ? html`<h2>Features that weighed most</h2><table><thead><tr><th>feature</th><th>weight</th></tr></thead><tbody>
    ${f.topFeatures.map((t) => html`<tr><td>${t.feature}</td><td>${t.weight.toFixed(3)}</td></tr>`)}</tbody></table>`
      : ''
  }
  ${authSection(f.auth ?? null)}`;
}

/** The body, headers and attachments; `bodyUrl` is this service's route of the sanitised HTML frame. */
export function contentSection(v: ParsedView | null, bodyUrl: string, loadImages: boolean): HtmlValue {
  if (!v) return html`<p class="notice">The message's bytes are no longer kept.</p>`;
  const frame = v.hasHtml
    ? html`<h2>HTML body</h2>
      <p>Shown without scripts; links are shown, not followed.
        ${
          loadImages
            ? html`Remote images loaded.`
            : html`Remote images blocked. <a href="?images=1">Load remote images</a>`
        }</p>
      <iframe class="body" title="message body" sandbox="" referrerpolicy="no-referrer" src="${bodyUrl}${loadImages ? '?images=1' : ''}"></iframe>`
    : '';
  return html`${frame}
    <h2>Text body</h2><pre>${v.text ?? '(no text part)'}</pre>
    <h2>Attachments</h2>${
      v.attachments.length
        ? html`<table><thead><tr><th>name</th><th>type</th><th>size</th></tr></thead><tbody>${v.attachments.map(
            (a) =>
              html`<tr><td>${a.filename ?? '(unnamed)'}</td><td>${a.contentType}</td><td>${bytes(a.size)}</td></tr>`,
          )}</tbody></table>`
        : html`<p>None.</p>`
    }
    <details><summary>Headers (${v.headers.length})</summary><table><tbody>${v.headers.map(
      (h) => html`<tr><th>${h.key}</th><td>${h.value}</td></tr>`,
    )}</tbody></table></details>`;
}
