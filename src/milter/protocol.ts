/**
 * The milter wire protocol, version 6 (Sendmail's libmilter `mfdef.h`, as Postfix `milter8.c` speaks it):
 * every packet is a 4-byte big-endian length (command byte included), one command byte, then its data.
 * Strings are NUL-terminated. Pure: framing, parsing and encoding; no sockets.
 */
import { isIP } from 'node:net';

export const VERSION = 6;

/** Commands from the MTA (SMFIC_*). */
export const Cmd = {
  ABORT: 'A',
  BODY: 'B',
  CONNECT: 'C',
  MACRO: 'D',
  EOM: 'E',
  HELO: 'H',
  QUIT_NC: 'K',
  HEADER: 'L',
  MAIL: 'M',
  EOH: 'N',
  OPTNEG: 'O',
  QUIT: 'Q',
  RCPT: 'R',
  DATA: 'T',
  UNKNOWN: 'U',
} as const;

/** Replies to the MTA (SMFIR_*). */
export const Reply = {
  ADDRCPT: '+',
  DELRCPT: '-',
  ACCEPT: 'a',
  CONTINUE: 'c',
  DISCARD: 'd',
  ADDHEADER: 'h',
  INSHEADER: 'i',
  CHGHEADER: 'm',
  PROGRESS: 'p',
  REJECT: 'r',
  TEMPFAIL: 't',
  REPLYCODE: 'y',
  OPTNEG: 'O',
} as const;

/** Actions the filter may take at end of message (SMFIF_*). */
export const Action = {
  ADDHDRS: 0x01,
  CHGBODY: 0x02,
  ADDRCPT: 0x04,
  DELRCPT: 0x08,
  CHGHDRS: 0x10,
  QUARANTINE: 0x20,
  CHGFROM: 0x40,
  ADDRCPT_PAR: 0x80,
  SETSYMLIST: 0x100,
} as const;

/** Protocol steps the filter may skip or not answer (SMFIP_*). */
export const Step = {
  NOCONNECT: 0x1,
  NOHELO: 0x2,
  NOMAIL: 0x4,
  NORCPT: 0x8,
  NOBODY: 0x10,
  NOHDRS: 0x20,
  NOEOH: 0x40,
  NR_HDR: 0x80,
  NOUNKNOWN: 0x100,
  NODATA: 0x200,
  SKIP: 0x400,
  RCPT_REJ: 0x800,
  NR_CONN: 0x1000,
  NR_HELO: 0x2000,
  NR_MAIL: 0x4000,
  NR_RCPT: 0x8000,
  NR_DATA: 0x10000,
  NR_UNKN: 0x20000,
  NR_EOH: 0x40000,
  NR_BODY: 0x80000,
  HDR_LEADSPC: 0x100000,
} as const;

/** What MailSentra asks for: headers (add, change: forged X-Spam-* and the subject prefix) and removing
 * quarantined recipients. */
export const WANTED_ACTIONS = Action.ADDHDRS | Action.CHGHDRS | Action.DELRCPT;

/**
 * Steps over TCP: it decides only at end of message, so it answers no other stage but DATA (the MTA then
 * does not wait for a reply per envelope command, header or body chunk), and it needs no unknown commands.
 * DATA is answered because the MTA sends the envelope, buffered, when it waits for that reply: Postfix's
 * milter client leaves Nagle's algorithm on, so with no reply the headers and body would wait behind the
 * unacknowledged envelope for this end's delayed ACK, about 40 ms a message. Header values with their
 * leading space let the message be rebuilt as it was, and a changed Subject keep its spacing.
 */
export const WANTED_STEPS =
  Step.NR_CONN |
  Step.NR_HELO |
  Step.NR_MAIL |
  Step.NR_RCPT |
  Step.NR_UNKN |
  Step.NR_EOH |
  Step.NR_BODY |
  Step.NR_HDR |
  Step.NOUNKNOWN |
  Step.HDR_LEADSPC;

/** Steps over a unix socket, which has no Nagle algorithm: DATA is skipped too, saving a write a message. */
export const WANTED_STEPS_LOCAL = WANTED_STEPS | Step.NR_DATA | Step.NODATA;

/** A stage's no-reply bit: when negotiated, that command gets no answer. */
export const NO_REPLY: Partial<Record<string, number>> = {
  [Cmd.CONNECT]: Step.NR_CONN,
  [Cmd.HELO]: Step.NR_HELO,
  [Cmd.MAIL]: Step.NR_MAIL,
  [Cmd.RCPT]: Step.NR_RCPT,
  [Cmd.DATA]: Step.NR_DATA,
  [Cmd.UNKNOWN]: Step.NR_UNKN,
  [Cmd.EOH]: Step.NR_EOH,
  [Cmd.BODY]: Step.NR_BODY,
  [Cmd.HEADER]: Step.NR_HDR,
};

/** A body chunk is at most 65 535 bytes (MILTER_CHUNK_SIZE); header packets are bounded by the MTA's header
 * size limit (Postfix: header_size_limit, 100 KiB). 1 MiB is the largest any MTA sends (Sendmail's
 * SMFIP_MDS_1M); a longer length is a broken or hostile peer. */
export const MAX_PACKET = 1024 * 1024;

export interface Packet {
  cmd: string;
  data: Buffer;
}

export class MilterProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MilterProtocolError';
  }
}

/** Splits a byte stream into packets. Throws MilterProtocolError on an impossible length. */
export class PacketReader {
  private chunks: Buffer[] = [];
  private size = 0;
  /** The length the packet being collected announced (its 4-byte head read), or -1. */
  private expected = -1;

  push(chunk: Buffer): Packet[] {
    this.chunks.push(chunk);
    this.size += chunk.length;
    const out: Packet[] = [];
    // The pending bytes are joined only when a whole packet is there: a packet that comes in thousands of
    // small segments must not be copied again at each one.
    while (this.size >= 4) {
      if (this.expected < 0) {
        const head = this.join(4);
        const len = head.readUInt32BE(0);
        if (len < 1) throw new MilterProtocolError('packet of length 0');
        if (len > MAX_PACKET) throw new MilterProtocolError(`packet of ${len} bytes exceeds ${MAX_PACKET}`);
        this.expected = len;
      }
      if (this.size < 4 + this.expected) break;
      const buf = this.join(4 + this.expected);
      out.push({
        cmd: String.fromCharCode(buf[4] as number),
        data: Buffer.from(buf.subarray(5, 4 + this.expected)),
      });
      // `buf` is the first pending chunk (joined when the packet spanned several): keep what follows it.
      const rest = buf.subarray(4 + this.expected);
      const later = this.chunks.slice(1);
      this.chunks = rest.length > 0 ? [rest, ...later] : later;
      this.size -= 4 + this.expected;
      this.expected = -1;
    }
    return out;
  }

  /** The pending bytes as one buffer of at least `n` bytes (the first chunk, when it holds them). */
  private join(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) return first;
    const all = Buffer.concat(this.chunks, this.size);
    this.chunks = [all];
    return all;
  }
}

export function encode(cmd: string, data: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(data.length + 1, 0);
  head.write(cmd, 4, 'latin1');
  return Buffer.concat([head, data]);
}

/** NUL-terminated strings, latin1 (bytes kept as they are). */
export function cstrings(...values: string[]): Buffer {
  return Buffer.from(values.map((v) => `${v}\0`).join(''), 'latin1');
}

/** Splits data into its NUL-terminated strings; throws when the last one is not terminated. */
export function splitStrings(data: Buffer): string[] {
  if (data.length === 0) return [];
  if (data[data.length - 1] !== 0) throw new MilterProtocolError('string not NUL-terminated');
  return data.subarray(0, -1).toString('latin1').split('\0');
}

export interface OptNeg {
  version: number;
  actions: number;
  steps: number;
}

export function parseOptNeg(data: Buffer): OptNeg {
  if (data.length < 12) throw new MilterProtocolError('short OPTNEG');
  return { version: data.readUInt32BE(0), actions: data.readUInt32BE(4), steps: data.readUInt32BE(8) };
}

export function encodeOptNeg(o: OptNeg): Buffer {
  const data = Buffer.alloc(12);
  data.writeUInt32BE(o.version, 0);
  data.writeUInt32BE(o.actions >>> 0, 4);
  data.writeUInt32BE(o.steps >>> 0, 8);
  return encode(Cmd.OPTNEG, data);
}

/** Our answer: the version both speak, and of what we want only what the MTA offered (the steps wanted are
 * WANTED_STEPS over TCP, WANTED_STEPS_LOCAL over a unix socket). */
export function negotiate(offer: OptNeg, overTcp: boolean): OptNeg {
  if (offer.version < 2) throw new MilterProtocolError(`protocol version ${offer.version} is too old`);
  return {
    version: Math.min(offer.version, VERSION),
    actions: (WANTED_ACTIONS & offer.actions) >>> 0,
    steps: ((overTcp ? WANTED_STEPS : WANTED_STEPS_LOCAL) & offer.steps) >>> 0,
  };
}

export interface ConnectInfo {
  hostname: string;
  /** '4', '6', 'L' (unix socket), 'U' (unknown). */
  family: string;
  port: number | null;
  address: string | null;
}

export function parseConnect(data: Buffer): ConnectInfo {
  const nul = data.indexOf(0);
  if (nul === -1 || nul + 1 >= data.length) throw new MilterProtocolError('malformed CONNECT');
  const hostname = data.subarray(0, nul).toString('latin1');
  const family = String.fromCharCode(data[nul + 1] as number);
  if (family === 'U') return { hostname, family, port: null, address: null };
  if (data.length < nul + 4) throw new MilterProtocolError('malformed CONNECT');
  const port = data.readUInt16BE(nul + 2);
  const [address] = splitStrings(data.subarray(nul + 4));
  if (address === undefined) throw new MilterProtocolError('malformed CONNECT');
  // Sendmail writes IPv6 addresses as "IPv6:…". Anything that is not an address (an MTA's bug, a hostile
  // peer) is no client address at all: it must not reach SPF or the log as one.
  const ip = address
    .replace(/^IPv6:/i, '')
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/%.*$/, '');
  return { hostname, family, port, address: isIP(ip) === 0 ? null : ip };
}

/** MACRO: the command it is for, then name/value pairs. Names come as `i` or `{daemon_name}`. */
export function parseMacros(data: Buffer): { for: string; macros: [string, string][] } {
  if (data.length < 1) throw new MilterProtocolError('empty MACRO');
  const strings = splitStrings(data.subarray(1));
  const macros: [string, string][] = [];
  for (let i = 0; i + 1 < strings.length; i += 2) {
    macros.push([(strings[i] as string).replace(/^\{(.*)\}$/, '$1'), strings[i + 1] as string]);
  }
  return { for: String.fromCharCode(data[0] as number), macros };
}

/** `<a@b>` → `a@b`; `<>` → ''. */
export function unbracket(address: string): string {
  const t = address.trim();
  return t.startsWith('<') && t.endsWith('>') ? t.slice(1, -1) : t;
}

export function replyCode(code: number, text: string): Buffer {
  // One line: a CR or LF in the text would end the reply early at the MTA.
  return encode(Reply.REPLYCODE, cstrings(`${code} ${text.replace(/[\r\n\0]+/g, ' ')}`));
}
