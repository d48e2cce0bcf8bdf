/**
 * The DNS names a message will need, read from its envelope and headers, so the verifier can ask for them
 * all at once. mailauth looks up DKIM keys, then SPF, then ARC keys, then DMARC, one after the other: on a
 * cold cache that is four round trips in a row. Asked together first, they cost about one (mailauth's own
 * lookups then join the queries in flight or find the answers cached). A hint only: a name missed here is
 * still looked up by mailauth, and a wrong guess costs one unused answer.
 */

import { addressIn } from '../util/address.js';
import { headerSectionLength } from '../util/header-section.js';
import { MAX_DKIM_SIGNATURES } from './signature-limit.js';

const MAX_HEAD = 65_536;
/** Key names asked for per message, DKIM and ARC together. */
const MAX_KEYS = 8;

/** Compiled once: this runs for every message, warm or cold. */
const TAG_PATTERNS = {
  d: /(?:^|;)\s*d\s*=\s*([^;\s]+)/i,
  s: /(?:^|;)\s*s\s*=\s*([^;\s]+)/i,
};

function tag(value: string, name: keyof typeof TAG_PATTERNS): string | null {
  const m = TAG_PATTERNS[name].exec(value);
  return m ? (m[1] as string).toLowerCase() : null;
}

const domainOf = (address: string) => {
  const at = address.lastIndexOf('@');
  return at === -1 ? null : address.slice(at + 1).toLowerCase() || null;
};

/** `[name, type]` pairs: DKIM and ARC keys, the SPF record of MAIL FROM (or HELO), From's DMARC record. */
export function namesToPrefetch(raw: Buffer, mailFrom: string, helo: string | null): [string, 'TXT'][] {
  const slice = raw.subarray(0, MAX_HEAD);
  const head = slice
    .subarray(0, headerSectionLength(slice))
    .toString('latin1')
    .replace(/\r\n[ \t]+/g, ' ');
  const names = new Set<string>();
  let keys = 0;
  let dkim = 0;
  let from: string | null = null;
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const field = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1);
    if (field === 'dkim-signature' || field === 'arc-message-signature' || field === 'arc-seal') {
      // Only the signatures the verifier checks (signature-limit.ts).
      if (field === 'dkim-signature' && ++dkim > MAX_DKIM_SIGNATURES) continue;
      if (++keys > MAX_KEYS) continue;
      const d = tag(value, 'd');
      const s = tag(value, 's');
      if (d && s) names.add(`${s}._domainkey.${d}`);
    } else if (field === 'from' && from === null) {
      from = domainOf(addressIn(value) ?? '');
    }
  }
  const spfDomain = mailFrom ? domainOf(mailFrom) : helo && !helo.startsWith('[') ? helo.toLowerCase() : null;
  if (spfDomain) names.add(spfDomain);
  if (from) names.add(`_dmarc.${from}`);
  return [...names].map((n) => [n, 'TXT']);
}
