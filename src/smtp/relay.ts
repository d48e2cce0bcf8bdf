/**
 * Delivery to the next hop with nodemailer's pooled SMTP client, with the original envelope (the null
 * sender too) and the raw bytes as they are. The next hop's own answer decides what upstream is told.
 * nodemailer sets TCP_NODELAY on its sockets and streams the body in large writes.
 */
import nodemailer from 'nodemailer';
import { parseHostPort } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Metrics } from '../observability/metrics.js';
import type { Envelope, RecipientResult, Relay, RelayOutcome } from './types.js';

/** The fields nodemailer sets on a failed send (not our SmtpError: this is what the next hop said). */
interface NodemailerError extends Error {
  code?: string;
  command?: string;
  responseCode?: number;
  response?: string;
  rejectedErrors?: NodemailerError[];
  recipient?: string;
}

interface SentInfo {
  accepted: (string | { address: string })[];
  rejected: (string | { address: string })[];
  rejectedErrors?: NodemailerError[];
  response: string;
}

const address = (a: string | { address: string }) => (typeof a === 'string' ? a : a.address);

function hasEightBit(raw: Buffer): boolean {
  for (let i = 0; i < raw.length; i++) if ((raw[i] as number) > 0x7f) return true;
  return false;
}

/**
 * What nodemailer's pool transporter reads of a message (smtp-pool/: `mail.message.getEnvelope`,
 * `messageId`, `getHeader`, `createReadStream`, `mail.data.dsn|signal|requireTLSExtensionEnabled`): its
 * envelope and its bytes. The relay tests pin this against the installed nodemailer.
 */
interface PreparedMail {
  data: Record<string, never>;
  message: {
    getEnvelope(): { from: string; to: string[]; size: number; use8BitMime: boolean };
    messageId(): string;
    getHeader(name: string): string;
    createReadStream(): Buffer;
  };
}

interface PoolTransporter {
  send(mail: PreparedMail, callback: (err: Error | null, info?: SentInfo) => void): void;
}

/** Maps a next-hop failure to what we tell upstream: its own 4xx/5xx, or 451 for local trouble. */
export function outcomeOfError(err: NodemailerError, recipients: string[]): RelayOutcome {
  // A next hop that cannot encrypt (relay.requireTls) is our configuration or network problem, not the
  // message's: the sender must retry, not bounce, whatever code the next hop gave to STARTTLS.
  const tlsFailure = err.code === 'ETLS' || err.command === 'STARTTLS';
  const code = tlsFailure ? undefined : err.responseCode;
  if (code !== undefined && code >= 500) {
    return {
      result: 'permfail',
      code,
      response: err.response ?? err.message,
      recipients: recipients.map((r) => ({ recipient: r, code, response: err.response ?? err.message })),
    };
  }
  // nodemailer compares the message with the next hop's SIZE before MAIL FROM: no retry can make it fit
  // (our headers are on it), so it is refused as a next hop's 552 would refuse it.
  if (err.code === 'EMESSAGE' && err.command === 'MAIL FROM') {
    const response = `552 5.3.4 Message too big for the next hop (${err.message})`;
    return {
      result: 'permfail',
      code: 552,
      response,
      recipients: recipients.map((r) => ({ recipient: r, code: 552, response })),
    };
  }
  const response =
    code !== undefined
      ? (err.response ?? err.message)
      : `next hop unavailable (${err.code ?? 'error'}: ${err.message})`;
  return {
    result: 'tempfail',
    code: 451,
    response,
    recipients: recipients.map((r) => ({ recipient: r, code: code ?? 451, response })),
  };
}

/**
 * A failure that happened before DATA on a connection the next hop dropped or turned away with 421:
 * the message was not taken, so sending it again cannot deliver it twice. nodemailer's pool requeues such a
 * message itself only for a stream it has not started reading, which the prepared bytes are not.
 */
export function beforeData(err: NodemailerError): boolean {
  const early = err.command === 'CONN' || err.command === 'MAIL FROM' || err.command === 'RCPT TO';
  const dropped = err.responseCode === 421 || err.code === 'ECONNECTION' || err.code === 'ESOCKET';
  return early && dropped;
}

export function createRelay(config: Config, metrics: Metrics): Relay {
  const { host, port } = parseHostPort(config.relay.to);
  const t = config.relay.timeoutMs;
  const transport = nodemailer.createTransport({
    pool: true,
    host,
    port,
    secure: false,
    requireTLS: config.relay.requireTls,
    ignoreTLS: !config.relay.requireTls && (host === '127.0.0.1' || host === '::1' || host === 'localhost'),
    maxConnections: config.relay.maxConnections,
    maxMessages: 1000,
    connectionTimeout: t,
    greetingTimeout: t,
    socketTimeout: t,
    name: config.smtp.hostname,
    logger: false,
  });

  // Mail#sendMail would compile a MIME tree around the raw bytes (MailComposer, a generated Message-ID,
  // stream plumbing): measured at ~7 % of the service's CPU per message. The pool's transporter takes the
  // envelope and the bytes directly, which is all a relay needs; SIZE and BODY=8BITMIME are declared.
  const pool = (transport as unknown as { transporter: PoolTransporter }).transporter;
  const sendPrepared = (envelope: Envelope, raw: Buffer) =>
    new Promise<SentInfo>((resolve, reject) => {
      const env = {
        from: envelope.mailFrom,
        to: envelope.rcptTo,
        size: raw.length,
        use8BitMime: hasEightBit(raw),
      };
      pool.send(
        {
          data: {},
          message: {
            getEnvelope: () => env,
            messageId: () => '',
            getHeader: () => '',
            createReadStream: () => raw,
          },
        },
        (err, info) => (err || !info ? reject(err ?? new Error('no reply from next hop')) : resolve(info)),
      );
    });

  return {
    async send(envelope: Envelope, raw: Buffer): Promise<RelayOutcome> {
      let outcome: RelayOutcome;
      try {
        const info = await sendPrepared(envelope, raw).catch((err: NodemailerError) => {
          if (!beforeData(err)) throw err;
          // A pooled connection the next hop closed or refused before DATA (an idle timeout, a limit of
          // messages per connection): nothing was taken, so once more, on another connection.
          return sendPrepared(envelope, raw);
        });
        const rejected = new Map<string, NodemailerError>();
        for (const e of info.rejectedErrors ?? []) if (e.recipient) rejected.set(e.recipient, e);
        const recipients: RecipientResult[] = envelope.rcptTo.map((r) => {
          const e = rejected.get(r);
          return e
            ? { recipient: r, code: e.responseCode ?? 450, response: e.response ?? e.message }
            : { recipient: r, code: 250, response: info.response };
        });
        const refused = info.rejected.map(address);
        outcome = {
          result: refused.length === 0 ? 'ok' : 'partial',
          code: 250,
          response: info.response,
          recipients,
        };
      } catch (err) {
        outcome = outcomeOfError(err as NodemailerError, envelope.rcptTo);
      }
      metrics.relay.inc({
        result:
          outcome.result === 'permfail' ? 'permfail' : outcome.result === 'tempfail' ? 'tempfail' : 'ok',
      });
      return outcome;
    },
    async close() {
      transport.close();
    },
  };
}
