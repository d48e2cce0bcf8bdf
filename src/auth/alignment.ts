/**
 * Whether a domain is authenticated by this message: SPF passed for it, or a DKIM signature of it verified.
 * Relaxed alignment (RFC 7489 §3.1): the same domain or one a subdomain of the other, so d=mail.example.com
 * authenticates example.com and the reverse. Used by allow-list entries that require alignment.
 */
import type { AuthVerdict } from './types.js';

export function related(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x === y || x.endsWith(`.${y}`) || y.endsWith(`.${x}`);
}

/** 'spf' or 'dkim' when that method authenticates `domain`, else null. */
export function authenticatedBy(v: AuthVerdict, domain: string): 'spf' | 'dkim' | null {
  if (v.spf.result === 'pass' && v.spf.domain && related(v.spf.domain, domain)) return 'spf';
  if (v.dkim.some((s) => s.result === 'pass' && related(s.domain, domain))) return 'dkim';
  return null;
}
