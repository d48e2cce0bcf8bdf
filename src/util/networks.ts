/**
 * CIDR lists (`10.0.0.0/8`, `::1/128`, or a bare address) as a membership test; IPv4-mapped IPv6 included.
 * It runs several times per message (client lists, trusted forwarders), so an IPv4 address, nearly every
 * client, is compared as a 32-bit number without allocating; IPv6 goes through ipaddr.js. Node's own
 * BlockList builds a native SocketAddress per check, which costs tens of times more.
 */
import ipaddr from 'ipaddr.js';

/** A dotted-quad IPv4 address as an unsigned 32-bit number; null if `s` is not one. */
export function ipv4Number(s: string): number | null {
  let value = 0;
  let part = -1;
  let parts = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46; // a '.' after the end closes the last part
    if (c === 46) {
      if (part < 0 || ++parts > 4) return null;
      value = value * 256 + part;
      part = -1;
    } else if (c >= 48 && c <= 57) {
      if (part === 0) return null; // a leading zero (inet_pton refuses it too)
      part = part < 0 ? c - 48 : part * 10 + (c - 48);
      if (part > 255) return null;
    } else return null;
  }
  return parts === 4 ? value : null;
}

interface V4Range {
  base: number;
  mask: number;
}

function v4Mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

export function networkMatcher(cidrs: readonly string[]): (ip: string | null) => boolean {
  const v4: V4Range[] = [];
  const v6: [ipaddr.IPv6, number][] = [];
  for (const cidr of cidrs) {
    const [addr, bitsText] = cidr.split('/') as [string, string | undefined];
    const n = ipv4Number(addr);
    const max = n === null ? 128 : 32;
    const bits = bitsText === undefined ? max : Number(bitsText);
    if (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText)) throw new RangeError(`bad prefix in ${cidr}`);
    if (bits > max) throw new RangeError(`prefix over ${max} bits in ${cidr}`);
    if (n !== null) {
      const mask = v4Mask(bits);
      v4.push({ base: (n & mask) >>> 0, mask });
    } else if (ipaddr.IPv6.isValid(addr)) v6.push([ipaddr.IPv6.parse(addr), bits]);
    else throw new RangeError(`not an IP address: ${addr}`);
  }
  return (ip) => {
    if (ip === null || ip === '') return false;
    const plain = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
    const n = ipv4Number(plain);
    if (n !== null) {
      for (const r of v4) if ((n & r.mask) >>> 0 === r.base) return true;
      return false;
    }
    if (v6.length === 0 || !ipaddr.IPv6.isValid(plain)) return false;
    const addr = ipaddr.IPv6.parse(plain);
    return v6.some(([range, bits]) => addr.match(range, bits));
  };
}
