/**
 * Allow/block list entries (pure): what an entry is, how a typed value is read, and whether an entry
 * matches a message. Entries come from the database (console, API) and from config; both are matched alike.
 */
import { isIP } from 'node:net';

export type ListName = 'allow' | 'block';
export type EntryKind = 'sender' | 'domain' | 'network';

export interface ListEntry {
  id: string;
  list: ListName;
  kind: EntryKind;
  /** `user@example.com`, `@example.com` or a CIDR / address, lower-cased. */
  value: string;
  /** 'global', or the recipient domain the entry is limited to. */
  scope: string;
  /** Matches only mail whose sender is authenticated and aligned (decided in pipeline/policy.ts). */
  alignedOnly: boolean;
  createdAt: Date;
  createdBy: string;
}

export class EntryError extends Error {
  readonly code = 'BAD_LIST_ENTRY';
}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Reads a value as typed by a person: `@domain`, an address, or a network. Throws EntryError. */
export function parseEntryValue(input: string): { kind: EntryKind; value: string } {
  const v = input.trim().toLowerCase();
  if (v.startsWith('@')) {
    if (!DOMAIN.test(v.slice(1))) throw new EntryError(`not a domain: ${input}`);
    // A domain entry matches its subdomains too: `@org` would decide for every .org sender.
    if (!v.includes('.')) throw new EntryError(`a top-level domain, too wide for a list entry: ${input}`);
    return { kind: 'domain', value: v };
  }
  if (v.includes('@')) {
    const at = v.lastIndexOf('@');
    const local = v.slice(0, at);
    if (local.length === 0 || local.length > 64 || /[\s<>]/.test(local) || !DOMAIN.test(v.slice(at + 1)))
      throw new EntryError(`not an address: ${input}`);
    return { kind: 'sender', value: v };
  }
  const [addr, bits, extra] = v.split('/');
  const family = isIP(addr ?? '');
  const max = family === 4 ? 32 : 128;
  if (
    family === 0 ||
    extra !== undefined ||
    (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= max))
  )
    throw new EntryError(`not an address, @domain or network: ${input}`);
  // One click in the console must not allow (or block) a large part of the Internet: an allow entry for
  // 0.0.0.0/0 would pass every IPv4 sender unscored. Networks of that size belong in the config file.
  const widest = family === 4 ? 8 : 16;
  if (bits !== undefined && Number(bits) < widest)
    throw new EntryError(`network wider than /${widest}, too wide for a list entry: ${input}`);
  return { kind: 'network', value: v };
}

/** `global` or a recipient domain. Throws EntryError. */
export function parseScope(input: string | undefined): string {
  const s = (input ?? 'global').trim().toLowerCase().replace(/^@/, '');
  if (s === '' || s === 'global') return 'global';
  if (!DOMAIN.test(s)) throw new EntryError(`scope is 'global' or a recipient domain: ${input}`);
  return s;
}

/** An address's domain, lower-cased, without a final (root) dot: `Bob@Example.COM.` is in example.com. */
export function domainOf(address: string): string {
  return address
    .slice(address.lastIndexOf('@') + 1)
    .toLowerCase()
    .replace(/\.$/, '');
}

/**
 * Whether a sender/domain entry (lower case) matches an envelope sender (a domain entry also covers its
 * subdomains). A final dot on the sender's domain names the same domain, and must not slip past a block.
 */
export function senderMatches(value: string, mailFrom: string): boolean {
  if (!mailFrom) return false;
  const a = mailFrom.toLowerCase().replace(/\.$/, '');
  if (value.startsWith('@')) {
    const d = domainOf(a);
    const want = value.slice(1);
    return d === want || d.endsWith(`.${want}`);
  }
  return a === value;
}

/** Whether a scoped entry applies to a message: global ones always, a domain's only when every recipient is
 * in that domain (one message gets one action, so an entry of one domain never decides for another's). */
export function inScope(scope: string, rcptTo: readonly string[]): boolean {
  if (scope === 'global') return true;
  return rcptTo.length > 0 && rcptTo.every((r) => domainOf(r) === scope);
}
