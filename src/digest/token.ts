/**
 * Digest link tokens (pure): `<claim>.<mac>`, both base64url, the MAC an HMAC-SHA256 of the claim. A row
 * claim binds one quarantine row, its recipient, one action and an expiry, so a link acts on nothing else
 * and for no one else. A subscription claim binds only the recipient: it sets that recipient's own digest
 * preference (unsubscribe, subscribe again) and touches no row. Single use (for release) is kept by the
 * caller, by the token's hash.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type DigestAction = 'release' | 'delete' | 'allow';

export interface RowClaim {
  /** quarantine row id */
  row: string;
  /** the row's recipient, lower-cased */
  to: string;
  act: DigestAction;
  /** expiry, seconds since the epoch */
  exp: number;
}

export interface SubscriptionClaim {
  /** the recipient, lower-cased */
  to: string;
  act: 'digests';
  /** expiry, seconds since the epoch */
  exp: number;
}

export type DigestClaim = RowClaim | SubscriptionClaim;

export type Verified =
  | { ok: true; claim: DigestClaim }
  | { ok: false; code: 'TOKEN_MALFORMED' | 'TOKEN_FORGED' | 'TOKEN_EXPIRED' };

const mac = (key: Buffer, data: string) => createHmac('sha256', key).update(data).digest();

export function signToken(key: Buffer, claim: DigestClaim): string {
  const body = Buffer.from(JSON.stringify(claim)).toString('base64url');
  return `${body}.${mac(key, body).toString('base64url')}`;
}

export function verifyToken(key: Buffer, token: string, nowMs = Date.now()): Verified {
  const parts = token.split('.');
  if (parts.length !== 2 || token.length > 2000) return { ok: false, code: 'TOKEN_MALFORMED' };
  const [body, sig] = parts as [string, string];
  const given = Buffer.from(sig, 'base64url');
  const want = mac(key, body);
  // Only the spelling signToken writes: Node's decoder skips characters it cannot read and ignores the last
  // character's padding bits, and each other spelling would be another single-use token for one action.
  if (given.length !== want.length || !timingSafeEqual(given, want) || given.toString('base64url') !== sig)
    return { ok: false, code: 'TOKEN_FORGED' };
  let claim: { row?: unknown; to?: unknown; act?: unknown; exp?: unknown };
  try {
    claim = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as typeof claim;
  } catch {
    return { ok: false, code: 'TOKEN_MALFORMED' };
  }
  if (claim === null || typeof claim.to !== 'string' || typeof claim.exp !== 'number')
    return { ok: false, code: 'TOKEN_MALFORMED' };
  const { to, exp } = claim;
  let parsed: DigestClaim;
  if (claim.act === 'digests') parsed = { to, act: 'digests', exp };
  else if (
    typeof claim.row === 'string' &&
    (claim.act === 'release' || claim.act === 'delete' || claim.act === 'allow')
  )
    parsed = { row: claim.row, to, act: claim.act, exp };
  else return { ok: false, code: 'TOKEN_MALFORMED' };
  if (exp * 1000 <= nowMs) return { ok: false, code: 'TOKEN_EXPIRED' };
  return { ok: true, claim: parsed };
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
