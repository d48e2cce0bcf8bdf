/** The few header fields the verdict log and the quarantine show (subject, From, Message-ID), decoded. */
import { decodeHeaderText, headerValue, parseHeaders, splitHeaderBody } from '../classifier/mime.js';

export interface Summary {
  subject: string | null;
  from: string | null;
  messageId: string | null;
  head: string;
}

/**
 * C0 and C1 controls (CR and LF among them), as an encoded word can carry them: each shown as a space, so
 * a summary is one line of text wherever it is shown (a digest's plain text, a log line, a terminal).
 */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;

/** A field as shown: one line, at most a header line's length (RFC 5322's 998). */
export function shownText(text: string): string {
  return text.slice(0, 998).replace(CONTROLS, ' ');
}

export function headerSummary(raw: Buffer): Summary {
  const { head } = splitHeaderBody(raw.subarray(0, 65_536).toString('latin1'));
  const headers = parseHeaders(head);
  const decode = (name: string) => {
    const v = headerValue(headers, name);
    return v === null ? null : shownText(decodeHeaderText(v));
  };
  const messageId = headerValue(headers, 'message-id');
  return {
    subject: decode('subject'),
    from: decode('from'),
    messageId: messageId === null ? null : shownText(messageId),
    head,
  };
}
