/**
 * RFC 8601 Authentication-Results: ours is built from the methods' result lines; incoming ones that claim
 * our authserv-id are forgeries (§5: a receiver must not trust them) and are removed, while other servers'
 * are kept for whoever reads them downstream. Pure, on the raw bytes (latin1 keeps them byte for byte).
 */

import { headerSectionLength } from '../util/header-section.js';

/** The header value (after `Authentication-Results: `), one result per folded line. */
export function formatAuthResults(authservId: string, results: readonly string[]): string {
  return results.length === 0 ? `${authservId}; none` : `${authservId};\r\n ${results.join(';\r\n ')}`;
}

export function authResultsLine(value: string): string {
  return `Authentication-Results: ${value}\r\n`;
}

/** Skips CFWS: white space and (nested) comments. */
function skipCfws(s: string, at: number): number {
  let i = at;
  for (;;) {
    while (i < s.length && /\s/.test(s[i] as string)) i++;
    if (s[i] !== '(') return i;
    let depth = 0;
    for (; i < s.length; i++) {
      const c = s[i];
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')' && --depth === 0) {
        i++;
        break;
      }
    }
  }
}

/** The authserv-id an Authentication-Results value starts with (a token or a quoted string), lower case. */
export function authservIdOf(value: string): string | null {
  const s = value.replace(/\r\n(?=[ \t])/g, '');
  const i = skipCfws(s, 0);
  if (s[i] === '"') {
    let out = '';
    for (let j = i + 1; j < s.length; j++) {
      const c = s[j] as string;
      if (c === '\\') out += s[++j] ?? '';
      else if (c === '"') return out.toLowerCase();
      else out += c;
    }
    return null;
  }
  const m = /^[^\s;()"]+/.exec(s.slice(i));
  return m ? m[0].toLowerCase() : null;
}

/**
 * Removes every Authentication-Results header field whose authserv-id is `authservId` (case-insensitive).
 * Returns the same buffer when there is none, and how many were removed.
 */
export function stripOurAuthResults(raw: Buffer, authservId: string): { raw: Buffer; removed: number } {
  const headEnd = headerSectionLength(raw);
  const head = raw.subarray(0, headEnd).toString('latin1');
  if (!/(^|\n)authentication-results[ \t]*:/i.test(head)) return { raw, removed: 0 };
  const ours = authservId.toLowerCase();
  const fields = head.split(/\r\n(?![ \t])/); // a field and its continuation lines stay together
  let removed = 0;
  const kept = fields.filter((field) => {
    const m = /^authentication-results[ \t]*:/i.exec(field);
    if (!m) return true;
    if (authservIdOf(field.slice(m[0].length)) !== ours) return true;
    removed++;
    return false;
  });
  if (removed === 0) return { raw, removed };
  const rebuilt = Buffer.from(kept.join('\r\n'), 'latin1');
  return { raw: Buffer.concat([rebuilt, raw.subarray(headEnd)]), removed };
}
