/** Worker thread: parses a stored message for the quarantine view, so a large or hostile message never holds the
 * service's event loop (SMTP sessions share it). */
import { simpleParser } from 'mailparser';
import type { MessageView } from './message-view.js';

export interface ViewTask {
  raw: Uint8Array;
  /** Longest text part returned, in characters. */
  maxTextChars: number;
}

export default async function view(task: ViewTask): Promise<Omit<MessageView, 'truncated'>> {
  const raw = Buffer.from(task.raw.buffer, task.raw.byteOffset, task.raw.byteLength);
  // HTML is never returned: only the text part (or mailparser's text rendering of the HTML).
  const parsed = await simpleParser(raw, { skipHtmlToText: false, skipImageLinks: true });
  const headers: Record<string, string> = {};
  for (const line of parsed.headerLines)
    headers[line.key] = line.line.slice(line.line.indexOf(':') + 1).trim();
  const text = parsed.text ?? null;
  return {
    headers,
    text: text !== null && text.length > task.maxTextChars ? text.slice(0, task.maxTextChars) : text,
    attachments: parsed.attachments.map((a) => ({
      filename: a.filename ?? null,
      contentType: a.contentType,
      size: a.size,
    })),
  };
}
