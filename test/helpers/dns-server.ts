/**
 * A small authoritative DNS server on loopback (dns-packet over UDP and TCP) for the authentication tests:
 * serves the records a test puts in its zone, answers NXDOMAIN with an SOA for names it does not know, and can
 * be told to answer SERVFAIL, to stay silent (a timeout), to delay every answer, or to truncate over UDP.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Answer, type Packet } from 'dns-packet';

export type ZoneRecord =
  | { type: 'TXT'; data: string | string[]; ttl?: number }
  | { type: 'A' | 'AAAA' | 'CNAME' | 'PTR'; data: string; ttl?: number }
  | { type: 'MX'; data: { exchange: string; preference: number }; ttl?: number };

export interface TestDns {
  port: number;
  /** `host:port` for dns.servers. */
  server: string;
  zone: Map<string, ZoneRecord[]>;
  add(name: string, ...records: ZoneRecord[]): void;
  servfail: Set<string>;
  silent: Set<string>;
  /** Names whose UDP answers are truncated (TC), so the client must ask again over TCP. */
  truncate: Set<string>;
  delayMs: number;
  /** Every question received, as `TYPE name`. */
  queries: string[];
  close(): Promise<void>;
}

const SOA: Answer = {
  type: 'SOA',
  name: 'test',
  ttl: 60,
  data: {
    mname: 'ns.test',
    rname: 'hostmaster.test',
    serial: 1,
    refresh: 3600,
    retry: 600,
    expire: 86400,
    minimum: 60,
  },
};

/** A DKIM key, SPF or DMARC record longer than 255 bytes goes out as several character-strings. */
function chunks(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += 255) out.push(text.slice(i, i + 255));
  return out.length > 0 ? out : [''];
}

export async function startTestDns(): Promise<TestDns> {
  const tcp = net.createServer();
  const dns: Omit<TestDns, 'port' | 'server' | 'close'> = {
    zone: new Map(),
    add(name, ...records) {
      const key = name.toLowerCase();
      dns.zone.set(key, [...(dns.zone.get(key) ?? []), ...records]);
    },
    servfail: new Set(),
    silent: new Set(),
    truncate: new Set(),
    delayMs: 0,
    queries: [],
  };

  function answer(query: Packet, overUdp: boolean): Buffer | null {
    const q = query.questions?.[0];
    if (!q) return null;
    const name = q.name.toLowerCase();
    dns.queries.push(`${q.type} ${name}`);
    if (dns.silent.has(name)) return null;
    const base = { type: 'response' as const, id: query.id, questions: [q] };
    const flags = dnsPacket.AUTHORITATIVE_ANSWER;
    if (dns.servfail.has(name)) return dnsPacket.encode({ ...base, flags: flags | 2 }); // rcode 2 = SERVFAIL
    const records = dns.zone.get(name);
    if (!records) return dnsPacket.encode({ ...base, flags: flags | 3, authorities: [SOA] }); // NXDOMAIN
    if (overUdp && dns.truncate.has(name))
      return dnsPacket.encode({ ...base, flags: flags | dnsPacket.TRUNCATED_RESPONSE });
    const answers = records
      .filter((r) => r.type === q.type)
      .map((r): Answer => {
        const ttl = r.ttl ?? 300;
        if (r.type === 'TXT') {
          const data = Array.isArray(r.data) ? r.data : chunks(r.data);
          return { type: 'TXT', name: q.name, ttl, data };
        }
        if (r.type === 'MX') return { type: 'MX', name: q.name, ttl, data: r.data };
        return { type: r.type, name: q.name, ttl, data: r.data };
      });
    return dnsPacket.encode({ ...base, flags, answers, authorities: answers.length === 0 ? [SOA] : [] });
  }

  const serveUdp = (udp: dgram.Socket) =>
    udp.on('message', (msg, from) => {
      let query: Packet;
      try {
        query = dnsPacket.decode(msg);
      } catch {
        return;
      }
      const reply = answer(query, true);
      if (!reply) return;
      const send = () => udp.send(reply, from.port, from.address);
      if (dns.delayMs > 0) setTimeout(send, dns.delayMs);
      else send();
    });
  tcp.on('connection', (socket) => {
    let buffered = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 2 || buffered.length < 2 + buffered.readUInt16BE(0)) return;
      const reply = answer(dnsPacket.streamDecode(buffered), false);
      buffered = Buffer.alloc(0);
      if (!reply) return;
      const framed = Buffer.concat([Buffer.from([reply.length >> 8, reply.length & 0xff]), reply]);
      setTimeout(() => socket.write(framed), dns.delayMs);
    });
  });

  const { udp, port } = await bindBoth(tcp, serveUdp);
  return Object.assign(dns, {
    port,
    server: `127.0.0.1:${port}`,
    async close() {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  });
}

/**
 * One port number for both: TCP listens where the kernel finds a free port, and a UDP socket binds the same
 * number. The number can be taken for UDP (or, the other way round, a kernel-chosen UDP port can be a busy
 * TCP port on a machine making many outgoing connections): then another is tried.
 */
async function bindBoth(
  tcp: net.Server,
  serveUdp: (udp: dgram.Socket) => void,
): Promise<{ udp: dgram.Socket; port: number }> {
  for (let attempt = 1; ; attempt++) {
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(0, '127.0.0.1', () => {
        tcp.removeListener('error', reject);
        resolve();
      });
    });
    const port = (tcp.address() as net.AddressInfo).port;
    const udp = dgram.createSocket('udp4');
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
      udp.once('error', resolve);
      udp.bind(port, '127.0.0.1', () => {
        udp.removeListener('error', resolve);
        resolve(null);
      });
    });
    if (!error) {
      serveUdp(udp);
      return { udp, port };
    }
    try {
      udp.close();
    } catch {
      // a socket whose bind failed may hold nothing to close
    }
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    if (error.code !== 'EADDRINUSE' || attempt === 20) throw error;
  }
}
