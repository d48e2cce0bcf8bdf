/** CIDR lists (`10.0.0.0/8`, `::1/128`, or a bare address) as a membership test; IPv4-mapped IPv6 included. */
import { BlockList, isIPv4 } from 'node:net';

export function networkMatcher(cidrs: readonly string[]): (ip: string | null) => boolean {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [addr, bits] = cidr.split('/') as [string, string | undefined];
    const type = isIPv4(addr) ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return (ip) => {
    if (ip === null || ip === '') return false;
    const plain = ip.replace(/^::ffff:/, '');
    return list.check(plain, isIPv4(plain) ? 'ipv4' : 'ipv6');
  };
}
