/**
 * A next hop built with smtp-server: records every envelope and the exact bytes, and can be told to answer
 * like a real MTA in trouble (4xx, 5xx, refuse some recipients, stall).
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Received {
  mailFrom: string;
  /** MAIL FROM parameters (SIZE, BODY, SMTPUTF8), upper-case names. */
  mailFromArgs: Record<string, string | boolean>;
  rcptTo: string[];
  raw: Buffer;
}

export type SinkBehaviour =
  | { kind: 'accept' }
  | { kind: 'data-reply'; code: number; text: string }
  | { kind: 'refuse-rcpt'; recipients: Record<string, { code: number; text: string }> }
  | { kind: 'stall-ms'; ms: number }
  /** 421 to MAIL FROM past `max` messages on one connection, as an MTA with a per-connection limit does. */
  | { kind: 'max-per-connection'; max: number };

export interface Sink {
  port: number;
  messages: Received[];
  /** Messages whose DATA has begun (counted before any stall), to know one is in flight. */
  receiving: number;
  behaviour: SinkBehaviour;
  close(): Promise<void>;
}

const err = (code: number, text: string) => Object.assign(new Error(text), { responseCode: code });

export async function startSink(
  behaviour: SinkBehaviour = { kind: 'accept' },
  options: { /** The SIZE it announces (RFC 1870). */ size?: number } = {},
): Promise<Sink> {
  const sink = { messages: [] as Received[], receiving: 0, behaviour } as Sink;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    size: options.size ?? 64 * 1024 * 1024,
    onMailFrom(_address, session, callback) {
      const b = sink.behaviour;
      const nth = (session as typeof session & { transaction: number }).transaction;
      if (b.kind === 'max-per-connection' && nth > b.max)
        return callback(err(421, '4.7.0 Too many messages on this connection'));
      callback();
    },
    onRcptTo(address, _session, callback) {
      const b = sink.behaviour;
      const refusal = b.kind === 'refuse-rcpt' ? b.recipients[address.address] : undefined;
      if (refusal) return callback(err(refusal.code, refusal.text));
      callback();
    },
    onData(stream, session, callback) {
      sink.receiving++;
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const b = sink.behaviour;
        const finish = () => {
          if (b.kind === 'data-reply') return callback(err(b.code, b.text));
          sink.messages.push({
            mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            mailFromArgs: (session.envelope.mailFrom ? session.envelope.mailFrom.args : null) || {},
            rcptTo: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks),
          });
          callback(null, 'Ok: queued by sink');
        };
        if (b.kind === 'stall-ms') setTimeout(finish, b.ms);
        else finish();
      });
    },
  });
  // A sending peer that dies (the SIGKILL tests kill the service mid-session) resets its connections; a
  // real next hop shrugs that off, and an 'error' without a listener would crash the test process.
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  sink.port = (server.server.address() as AddressInfo).port;
  sink.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return sink;
}
