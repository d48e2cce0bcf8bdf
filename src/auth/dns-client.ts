/**
 * One DNS question to one server over the wire (dns-packet over dgram, TCP when the answer is truncated),
 * with a hard deadline. Written instead of node:dns because the verifier's answers are cached for their TTL,
 * and node:dns reports no TTL for TXT or MX. Answers come back in node:dns's shapes, which mailauth expects.
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket } from 'dns-packet';

export type RecordType = 'A' | 'AAAA' | 'TXT' | 'MX' | 'PTR' | 'CNAME' | 'NS';
export const RECORD_TYPES: readonly RecordType[] = ['A', 'AAAA', 'TXT', 'MX', 'PTR', 'CNAME', 'NS'];

export interface MxRecord {
  exchange: string;
  priority: number;
}
/** node:dns shapes: string[] (A, AAAA, PTR, CNAME, NS), string[][] (TXT), MxRecord[] (MX). */
export type DnsRecords = string[] | string[][] | MxRecord[];

/**
 * node:dns error codes, because mailauth branches on them: ENOTFOUND (NXDOMAIN) and ENODATA (no record of
 * the type) are answers; the others are failures, which mailauth reports as temperror.
 */
export type DnsErrorCode = 'ENOTFOUND' | 'ENODATA' | 'ESERVFAIL' | 'EREFUSED' | 'ETIMEOUT' | 'EBADRESP';

export class DnsError extends Error {
  constructor(
    readonly code: DnsErrorCode,
    name: string,
    type: string,
    /** For ENOTFOUND/ENODATA: how long the negative answer may be cached (SOA minimum), in seconds. */
    readonly ttl: number | null = null,
  ) {
    // Negative answers are ordinary results, thrown because that is mailauth's resolver contract, several
    // per message and mostly from the cache: capturing a stack for each costs more than the lookup.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`${code} ${type} ${name}`);
    Error.stackTraceLimit = stackTraceLimit;
    this.name = 'DnsError';
  }
}

export interface DnsServer {
  host: string;
  port: number;
}

export interface WireAnswer {
  records: DnsRecords;
  /** Smallest TTL of the answer records, in seconds. */
  ttl: number;
}

const UDP_PAYLOAD = 4096;

function encodeQuery(id: number, name: string, type: RecordType): dnsPacket.Packet {
  return {
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    // EDNS0: lets a 2048- or 4096-bit DKIM key come back over UDP without a TCP retry.
    additionals: [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: UDP_PAYLOAD,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [],
      },
    ],
  };
}

const text = (d: string | Buffer) => (typeof d === 'string' ? d : d.toString('utf8'));

function recordsOf(answers: Answer[], type: RecordType): DnsRecords {
  switch (type) {
    case 'TXT':
      return answers.flatMap((a) =>
        a.type === 'TXT' ? [Array.isArray(a.data) ? a.data.map(text) : [text(a.data)]] : [],
      );
    case 'MX':
      return answers.flatMap((a) =>
        a.type === 'MX' ? [{ exchange: a.data.exchange, priority: a.data.preference ?? 0 }] : [],
      );
    default:
      return answers.flatMap((a) => (a.type === type ? [a.data] : []));
  }
}

/** Interprets a response: records with their TTL, or a DnsError (negative answers carry the SOA TTL). */
export function interpret(response: DecodedPacket, name: string, type: RecordType): WireAnswer {
  const rcode = (response as DecodedPacket & { rcode?: string }).rcode ?? 'NOERROR';
  const soa = (response.authorities ?? []).find((a) => a.type === 'SOA');
  const negativeTtl = soa && soa.type === 'SOA' ? Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0) : null;
  switch (rcode) {
    case 'NOERROR':
      break;
    case 'NXDOMAIN':
      throw new DnsError('ENOTFOUND', name, type, negativeTtl);
    case 'SERVFAIL':
      throw new DnsError('ESERVFAIL', name, type);
    case 'REFUSED':
      throw new DnsError('EREFUSED', name, type);
    default:
      throw new DnsError('EBADRESP', name, type);
  }
  const answers = (response.answers ?? []).filter((a) => a.type === type);
  const records = recordsOf(answers, type);
  if (records.length === 0) throw new DnsError('ENODATA', name, type, negativeTtl);
  const ttl = Math.min(...answers.map((a) => ('ttl' in a && typeof a.ttl === 'number' ? a.ttl : 0)));
  return { records, ttl };
}

function sameQuestion(response: DecodedPacket, id: number, name: string, type: RecordType): boolean {
  const q = response.questions?.[0];
  return (
    response.id === id &&
    response.type === 'response' &&
    q !== undefined &&
    q.type === type &&
    q.name.toLowerCase() === name.toLowerCase()
  );
}

/** How a transport ends its exchange: with the answer, or with a DnsError of this code. */
interface Outcome {
  answer(packet: DecodedPacket): void;
  fail(code: DnsErrorCode): void;
}

/**
 * One question's exchange over a transport that `open` starts and whose close it returns: it ends once, with
 * the answer, an error, or ETIMEOUT after `ms`, and the socket is closed however it ends. A random id per
 * question (and a fresh socket, so a random source port) makes a spoofed answer harder.
 */
function exchange(
  name: string,
  type: RecordType,
  ms: number,
  open: (id: number, outcome: Outcome) => () => void,
): Promise<DecodedPacket> {
  return new Promise((resolve, reject) => {
    let ended = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let close = () => {};
    const end = (settle: () => void) => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      close();
      settle();
    };
    const outcome: Outcome = {
      answer: (packet) => end(() => resolve(packet)),
      fail: (code) => end(() => reject(new DnsError(code, name, type))),
    };
    close = open(randomInt(0, 65_536), outcome);
    timer = setTimeout(() => outcome.fail('ETIMEOUT'), ms);
  });
}

function overUdp(server: DnsServer, name: string, type: RecordType, ms: number): Promise<DecodedPacket> {
  return exchange(name, type, ms, (id, outcome) => {
    const socket = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
    // Connected: the kernel drops datagrams from anyone but the server, and an ICMP "port unreachable"
    // ends the wait at once instead of at the timeout.
    socket.on('error', () => outcome.fail('EREFUSED'));
    socket.on('message', (msg) => {
      let packet: DecodedPacket;
      try {
        packet = dnsPacket.decode(msg);
      } catch {
        return; // garbage on our port: keep waiting for the real answer
      }
      if (sameQuestion(packet, id, name, type)) outcome.answer(packet);
    });
    socket.connect(server.port, server.host, () =>
      socket.send(dnsPacket.encode(encodeQuery(id, name, type))),
    );
    return () => socket.close();
  });
}

function overTcp(server: DnsServer, name: string, type: RecordType, ms: number): Promise<DecodedPacket> {
  return exchange(name, type, ms, (id, outcome) => {
    const socket = net.connect(server.port, server.host);
    let buffered = Buffer.alloc(0);
    socket.on('error', () => outcome.fail('EREFUSED'));
    socket.on('connect', () => socket.write(dnsPacket.streamEncode(encodeQuery(id, name, type))));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 2 || buffered.length < 2 + buffered.readUInt16BE(0)) return;
      let packet: DecodedPacket;
      try {
        packet = dnsPacket.streamDecode(buffered) as DecodedPacket;
      } catch {
        return outcome.fail('EBADRESP');
      }
      if (sameQuestion(packet, id, name, type)) outcome.answer(packet);
      else outcome.fail('EBADRESP');
    });
    return () => socket.destroy();
  });
}

/** Asks one server; `ms` bounds the whole exchange, UDP and the TCP retry together. */
export async function ask(
  server: DnsServer,
  name: string,
  type: RecordType,
  ms: number,
): Promise<WireAnswer> {
  const started = Date.now();
  let response = await overUdp(server, name, type, ms);
  if (response.flag_tc)
    response = await overTcp(server, name, type, Math.max(1, ms - (Date.now() - started)));
  return interpret(response, name, type);
}
