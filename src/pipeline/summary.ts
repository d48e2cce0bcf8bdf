/** The few header fields the verdict log and the quarantine show (subject, From, Message-ID), decoded. */
import { decodeHeaderText, headerValue, parseHeaders, splitHeaderBody } from '../classifier/mime.js';

export interface Summary {
  subject: string | null;
  from: string | null;
  messageId: string | null;
  head: string;
}

export function headerSummary(raw: Buffer): Summary {
  const { head } = splitHeaderBody(raw.subarray(0, 65_536).toString('latin1'));
  const headers = parseHeaders(head);
  const decode = (name: string) => {
    const v = headerValue(headers, name);
    return v === null ? null : decodeHeaderText(v).slice(0, 998);
  };
  return {
    subject: decode('subject'),
    from: decode('from'),
    messageId: headerValue(headers, 'message-id'),
    head,
  };
}
