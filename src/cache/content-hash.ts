/**
 * Hash of a message's content for the verdict cache and feedback: the same message relayed twice hashes the
 * same, so the headers that change per delivery (trace, ids, dates, recipients, our own stamps) are left out.
 * Pure and one pass over the bytes.
 */
import { createHash } from 'node:crypto';

const PER_DELIVERY =
  /^(received|message-id|date|to|cc|delivered-to|return-path|x-original-to|x-spam-[a-z-]*|x-mailsentra-[a-z-]*|dkim-signature|arc-[a-z-]*|authentication-results|received-spf)$/i;

export function contentHash(raw: Buffer): string {
  const hash = createHash('sha256');
  // Headers end at the first empty line; only the header block is filtered, the body is hashed as is.
  let headerEnd = raw.indexOf('\r\n\r\n');
  let sep = 4;
  const lf = raw.indexOf('\n\n');
  if (lf !== -1 && (headerEnd === -1 || lf < headerEnd)) {
    headerEnd = lf;
    sep = 2;
  }
  const head = (headerEnd === -1 ? raw : raw.subarray(0, headerEnd)).toString('latin1');
  let keep = true;
  for (const line of head.split(/\r?\n/)) {
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (keep) hash.update(line.trim()).update('\n');
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    keep = !PER_DELIVERY.test(name);
    if (keep) hash.update(`${name.toLowerCase()}:${line.slice(colon + 1).trim()}`).update('\n');
  }
  if (headerEnd !== -1) hash.update('\n').update(raw.subarray(headerEnd + sep));
  return hash.digest('hex');
}
