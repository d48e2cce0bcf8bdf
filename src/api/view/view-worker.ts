/** Worker thread: parses a stored message for the quarantine view, so a large or hostile message never holds the
 * service's event loop (SMTP sessions share it). */
import { simpleParser } from 'mailparser';
import type { MessageView } from './message-view.js';

export interface ViewTask {
  raw: Uint8Array;
  /** Longest text (and HTML) part returned, in characters. */
  maxTextChars: number;
  /** Return the HTML part too (the console sanitises it for its sandboxed frame); the API never does. */
  html: boolean;
}

export default async function view(task: ViewTask): Promise<Omit<MessageView, 'truncated'>> {
  const raw = Buffer.from(task.raw.buffer, task.raw.byteOffset, task.raw.byteLength);
  const parsed = await simpleParser(raw, {
    skipHtmlToText: false,
    skipTextToHtml: true,
    skipImageLinks: true,
  });
  const headers: Record<string, string> = {};
  const headerLines: { key: string; value: string }[] = [];
  for (const line of parsed.headerLines) {
    const value = line.line.slice(line.line.indexOf(':') + 1).trim();
    headers[line.key] = value;
    headerLines.push({ key: line.key, value });
  }
  const cap = (v: string | null) =>
    v !== null && v.length > task.maxTextChars ? v.slice(0, task.maxTextChars) : v;
  const html = task.html && typeof parsed.html === 'string' && parsed.html.length > 0 ? parsed.html : null;
  return {
    headers,
    headerLines,
    html: cap(html),
    text: cap(parsed.text ?? null),
    attachments: parsed.attachments.map((a) => ({
      filename: a.filename ?? null,
      contentType: a.contentType,
      size: a.size,
    })),
  };
}
