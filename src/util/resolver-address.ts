/**
 * A resolver's address as `dns.servers` gives it: an IPv4 or IPv6 address, with a port after a colon (an
 * IPv6 one in brackets), 53 without. One reading for the configuration's check and for the resolver.
 */
export interface ResolverAddress {
  host: string;
  port: number;
}

export function parseServer(spec: string): ResolverAddress {
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(spec);
  if (bracketed) return { host: bracketed[1] as string, port: Number(bracketed[2] ?? 53) };
  const colons = spec.split(':').length - 1;
  if (colons === 1) {
    const [host, port] = spec.split(':') as [string, string];
    return { host, port: Number(port) };
  }
  return { host: spec, port: 53 }; // a bare IPv4 address or a bare IPv6 address
}
