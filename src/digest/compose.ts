/**
 * The digest mail (pure but for the MIME build): a plain-text and an HTML part listing a recipient's newly
 * held rows with release, delete and always-allow links, marked `Auto-Submitted: auto-generated` (RFC 3834)
 * so that auto-responders stay quiet, and an unsubscribe link, also given as `List-Unsubscribe` with
 * `List-Unsubscribe-Post` (RFC 8058) so mail clients offer a one-click unsubscribe.
 */
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { shownText } from '../pipeline/summary.js';
import { html, showDirectionControls } from '../ui/html.js';

export interface DigestRow {
  mailFrom: string;
  subject: string | null;
  score: number | null;
  createdAt: Date;
  links: { release: string; delete: string; allow: string };
}

export interface DigestInput {
  recipient: string;
  rows: DigestRow[];
  linkDays: number;
  /** The recipient's subscription link (unsubscribe, subscribe again). */
  unsubscribe: string;
}

export function digestText({ recipient, rows, linkDays, unsubscribe }: DigestInput): string {
  const lines = [
    `Messages held for ${recipient} since the last digest: ${rows.length}`,
    `Links are valid for ${linkDays} days; each opens a page where you confirm.`,
    '',
  ];
  for (const r of rows) {
    lines.push(
      // One line each, whatever a row holds: a line break in a subject would start an entry of its own,
      // links and all, in the service's voice.
      `From: ${showDirectionControls(shownText(r.mailFrom)) || '<>'}`,
      `Subject: ${showDirectionControls(shownText(r.subject ?? '(no subject)'))}`,
      `Score: ${r.score === null ? '-' : r.score.toFixed(3)}   Date: ${r.createdAt.toISOString()}`,
      `Release: ${r.links.release}`,
      `Delete: ${r.links.delete}`,
      `Always allow this sender: ${r.links.allow}`,
      '',
    );
  }
  lines.push(`Unsubscribe from these digests: ${unsubscribe}`);
  return lines.join('\n');
}

export function digestHtml({ recipient, rows, linkDays, unsubscribe }: DigestInput): string {
  return html`<!doctype html><html><body style="font-family:sans-serif">
<p>Messages held for <strong>${recipient}</strong> since the last digest: ${rows.length}.
Links are valid for ${linkDays} days; each opens a page where you confirm.</p>
<table cellpadding="4" style="border-collapse:collapse"><tr><th align="left">From</th><th align="left">Subject</th><th>Score</th><th>Date</th><th></th></tr>
${rows.map(
  (r) => html`<tr><td>${r.mailFrom || '<>'}</td><td>${r.subject ?? '(no subject)'}</td>
<td>${r.score === null ? '-' : r.score.toFixed(3)}</td><td>${r.createdAt.toISOString().slice(0, 16).replace('T', ' ')}</td>
<td><a href="${r.links.release}">Release</a> · <a href="${r.links.delete}">Delete</a> · <a href="${r.links.allow}">Always allow sender</a></td></tr>`,
)}
</table>
<p style="font-size:smaller"><a href="${unsubscribe}">Unsubscribe from these digests</a></p></body></html>`
    .value;
}

export async function composeDigest(input: DigestInput & { from: string }): Promise<Buffer> {
  const mail = new MailComposer({
    from: input.from,
    to: input.recipient,
    subject: `Quarantine digest: ${input.rows.length} held message${input.rows.length === 1 ? '' : 's'}`,
    text: digestText(input),
    html: digestHtml(input),
    headers: {
      'Auto-Submitted': 'auto-generated',
      'X-Auto-Response-Suppress': 'All',
      'List-Unsubscribe': `<${input.unsubscribe}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    },
  });
  return mail.compile().build();
}
