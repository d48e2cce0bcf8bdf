/**
 * A small milter client (the MTA's side of the protocol) for the protocol tests: it negotiates, sends every
 * command as an MTA would, and reads the filter's replies. Raw writes let a test send malformed packets.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { DeepPartial } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { Action, Cmd, cstrings, encode, type Packet, PacketReader, Step } from '../../src/milter/protocol.js';
import { startTestService, type TestService } from './service.js';

/** A whole service that listens only as a milter (SMTP off), on an ephemeral port; `policy` as given. */
export function startMilterService(policy: DeepPartial<Config['policy']>): Promise<TestService> {
  return startTestService({ config: { smtp: { listen: 'off' }, milter: { listen: '127.0.0.1:0' }, policy } });
}

export const ALL_ACTIONS = 0x1ff;
export const ALL_STEPS = 0x1fffff;

export interface MilterClient {
  socket: Socket;
  /** Every packet the filter sent so far that no read took. */
  readonly pending: Packet[];
  negotiate(offer?: { version?: number; actions?: number; steps?: number }): Promise<{
    version: number;
    actions: number;
    steps: number;
  }>;
  send(cmd: string, data?: Buffer): void;
  raw(bytes: Buffer): void;
  /** The next packet, or throws after `ms`. */
  read(ms?: number): Promise<Packet>;
  /** Reads until a final reply of the end of message (accept, continue, discard, reject, tempfail, reply
   * code), collecting modifications and PROGRESS packets on the way. */
  readFinal(ms?: number): Promise<{ final: Packet; before: Packet[] }>;
  macro(stage: string, pairs: Record<string, string>): void;
  connectInfo(hostname: string, address: string, port?: number): void;
  helo(name: string): void;
  mail(from: string): void;
  rcpt(to: string): void;
  header(name: string, value: string): void;
  eoh(): void;
  body(chunk: Buffer): void;
  eom(): void;
  /** Sends a whole message: headers split from the body, the body in chunks of `chunk` bytes. */
  message(raw: Buffer, chunk?: number): void;
  /** Resolves when the filter closed the connection. */
  closed(ms?: number): Promise<void>;
  close(): void;
}

export async function milterConnect(target: number | string): Promise<MilterClient> {
  const socket =
    typeof target === 'number'
      ? netConnect({ port: target, host: '127.0.0.1' })
      : netConnect({ path: target });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const reader = new PacketReader();
  const pending: Packet[] = [];
  const waiters: (() => void)[] = [];
  let ended = false;
  socket.on('data', (chunk: Buffer) => {
    pending.push(...reader.push(chunk));
    for (const w of waiters.splice(0)) w();
  });
  const endAll = () => {
    ended = true;
    for (const w of waiters.splice(0)) w();
  };
  socket.on('close', endAll);
  socket.on('error', () => undefined);
  let leadingSpace = false;

  async function read(ms = 10_000): Promise<Packet> {
    const deadline = Date.now() + ms;
    for (;;) {
      const p = pending.shift();
      if (p) return p;
      if (ended) throw new Error('connection closed by the filter');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no packet within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  const send = (cmd: string, data?: Buffer) => {
    socket.write(encode(cmd, data));
  };
  const client: MilterClient = {
    socket,
    pending,
    async negotiate(offer = {}) {
      const data = Buffer.alloc(12);
      data.writeUInt32BE(offer.version ?? 6, 0);
      data.writeUInt32BE(offer.actions ?? ALL_ACTIONS, 4);
      data.writeUInt32BE(offer.steps ?? ALL_STEPS, 8);
      send(Cmd.OPTNEG, data);
      const p = await read();
      if (p.cmd !== 'O') throw new Error(`expected OPTNEG, got ${p.cmd}`);
      const agreed = {
        version: p.data.readUInt32BE(0),
        actions: p.data.readUInt32BE(4),
        steps: p.data.readUInt32BE(8),
      };
      leadingSpace = (agreed.steps & Step.HDR_LEADSPC) !== 0;
      return agreed;
    },
    send,
    raw(bytes) {
      socket.write(bytes);
    },
    read,
    async readFinal(ms = 20_000) {
      const before: Packet[] = [];
      for (;;) {
        const p = await read(ms);
        if ('acdrty'.includes(p.cmd)) return { final: p, before };
        before.push(p);
      }
    },
    macro(stage, pairs) {
      send(
        Cmd.MACRO,
        Buffer.concat([Buffer.from(stage, 'latin1'), cstrings(...Object.entries(pairs).flat())]),
      );
    },
    connectInfo(hostname, address, port = 25) {
      const p = Buffer.alloc(2);
      p.writeUInt16BE(port, 0);
      const family = address.includes(':') ? '6' : '4';
      send(Cmd.CONNECT, Buffer.concat([cstrings(hostname), Buffer.from(family), p, cstrings(address)]));
    },
    helo(name) {
      send(Cmd.HELO, cstrings(name));
    },
    mail(from) {
      send(Cmd.MAIL, cstrings(`<${from}>`));
    },
    rcpt(to) {
      send(Cmd.RCPT, cstrings(`<${to}>`));
    },
    header(name, value) {
      send(Cmd.HEADER, cstrings(name, value));
    },
    eoh() {
      send(Cmd.EOH);
    },
    body(chunk) {
      send(Cmd.BODY, chunk);
    },
    eom() {
      send(Cmd.EOM);
    },
    message(raw, chunk = 65_535) {
      const text = raw.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const head = end === -1 ? text : text.slice(0, end);
      for (const field of head.split(/\r\n(?![ \t])/)) {
        const colon = field.indexOf(':');
        if (colon <= 0) continue;
        const value = field.slice(colon + 1);
        client.header(field.slice(0, colon), leadingSpace ? value : value.replace(/^[ \t]+/, ''));
      }
      client.eoh();
      const body = end === -1 ? Buffer.alloc(0) : raw.subarray(end + 4);
      for (let at = 0; at < body.length; at += chunk) client.body(body.subarray(at, at + chunk));
      client.eom();
    },
    async closed(ms = 5000) {
      const deadline = Date.now() + ms;
      while (!ended) {
        if (Date.now() > deadline) throw new Error('the filter did not close the connection');
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close() {
      socket.destroy();
    },
  };
  return client;
}

/** The modifications among `packets`, decoded. */
export function decodeChanges(packets: Packet[]) {
  const strings = (b: Buffer) => b.toString('latin1').replace(/\0$/, '').split('\0');
  return packets.map((p) => {
    switch (p.cmd) {
      case 'h':
        return { type: 'add' as const, name: strings(p.data)[0], value: strings(p.data)[1] };
      case 'm':
        return {
          type: 'change' as const,
          index: p.data.readUInt32BE(0),
          name: strings(p.data.subarray(4))[0],
          value: strings(p.data.subarray(4))[1],
        };
      case '-':
        return { type: 'delrcpt' as const, rcpt: strings(p.data)[0] };
      case 'p':
        return { type: 'progress' as const };
      default:
        return { type: 'other' as const, cmd: p.cmd };
    }
  });
}

export { Action, Cmd, Step };
