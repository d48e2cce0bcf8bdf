/**
 * The inbound SMTP side, kept thin: limits and envelope checks in smtp-server's hooks, then the message
 * bytes to the pipeline and its reply back to the client. No AUTH (it sits behind an MTA); STARTTLS when a
 * certificate is configured; XFORWARD attributes are believed only from trusted forwarders.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { SMTPServerSession } from 'smtp-server';
import { parseHostPort } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { SmtpError, smtpErrors } from '../errors.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import type { Delivery, Reply } from '../pipeline/process-message.js';
import { networkMatcher } from '../util/networks.js';
import { TrustingSMTPServer } from './greet-pause.js';

export interface InboundServer {
  listen(): Promise<number>;
  /** Stops accepting; sessions in flight get `graceMs` to finish, then are cut. */
  close(graceMs: number): Promise<void>;
  readonly openSessions: number;
}

const toError = (code: number, text: string) => Object.assign(new Error(text), { responseCode: code });

export function createInboundServer(deps: {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  onMessage(delivery: Delivery): Promise<Reply>;
}): InboundServer {
  const { config, logger, metrics } = deps;
  const c = config.smtp;
  const allowed = networkMatcher(c.allowNetworks);
  const trusted = networkMatcher(c.trustedForwarders);
  const origin = new Map<string, { ip: string; messages: number }>();
  let sessions = 0;
  const tls = c.tlsCert && c.tlsKey ? { cert: readFileSync(c.tlsCert), key: readFileSync(c.tlsKey) } : null;

  const server = new TrustingSMTPServer(
    {
      name: c.hostname,
      banner: 'MailSentra ESMTP',
      size: c.maxMessageSize,
      maxClients: c.maxSessions,
      socketTimeout: c.idleTimeoutMs,
      closeTimeout: 5000,
      authOptional: true,
      disabledCommands: tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
      ...(tls ?? {}),
      disableReverseLookup: true,
      useXForward: true,
      logger: false,
      onConnect(session, callback) {
        const ip = session.remoteAddress;
        if (!allowed(ip)) {
          logger.warn(
            { event: 'SMTP_CLIENT_REFUSED', sessionId: session.id, ip },
            'client not in allowed networks',
          );
          const e = smtpErrors.clientNotAllowed();
          return callback(toError(e.responseCode, e.message));
        }
        origin.set(session.id, { ip, messages: 0 });
        sessions++;
        metrics.smtpSessions.set(sessions);
        callback();
      },
      onClose(session) {
        if (origin.delete(session.id)) {
          sessions--;
          metrics.smtpSessions.set(sessions);
        }
      },
      onMailFrom(_address, session, callback) {
        const o = origin.get(session.id);
        if (o && o.messages >= c.maxMessagesPerSession) {
          return callback(toError(421, '4.7.0 Too many messages in this session, reconnect to send more'));
        }
        callback();
      },
      onRcptTo(_address, session, callback) {
        if (session.envelope.rcptTo.length >= c.maxRecipients) {
          const e = smtpErrors.tooManyRecipients();
          return callback(toError(e.responseCode, e.message));
        }
        callback();
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        let size = 0;
        // Always drain the stream: the client is still sending, and the reply must wait for the final dot.
        stream.on('data', (chunk: Buffer) => {
          if (size <= c.maxMessageSize) chunks.push(chunk);
          size += chunk.length;
        });
        stream.once('error', (err) => callback(toError(451, `4.3.0 Error reading message: ${err.message}`)));
        stream.once('end', () => {
          if (
            (stream as typeof stream & { sizeExceeded?: boolean }).sizeExceeded ||
            size > c.maxMessageSize
          ) {
            const e = smtpErrors.messageTooBig(c.maxMessageSize);
            return callback(toError(e.responseCode, e.message));
          }
          const o = origin.get(session.id);
          if (o) o.messages++;
          deps
            .onMessage(deliveryOf(session, Buffer.concat(chunks, size)))
            .then((reply) =>
              reply.code === 250 ? callback(null, reply.text) : callback(toError(reply.code, reply.text)),
            )
            .catch((err: unknown) => {
              // A defect must not lose mail: the client keeps it and retries.
              logger.error(
                { event: 'MESSAGE_FAILED', sessionId: session.id, err: (err as Error).message },
                'unexpected failure',
              );
              const e = err instanceof SmtpError ? err : smtpErrors.localTempfail();
              callback(toError(e.responseCode, e.message));
            });
        });
      },
    },
    trusted,
  );
  server.on('error', (err) =>
    logger.warn({ event: 'SMTP_SERVER_ERROR', err: err.message }, 'smtp server error'),
  );

  function deliveryOf(session: SMTPServerSession, raw: Buffer): Delivery {
    const o = origin.get(session.id);
    const realIp = o?.ip ?? session.remoteAddress;
    const xf = (session as SMTPServerSession & { xForward?: Map<string, string | false> }).xForward;
    const believe = xf !== undefined && xf.size > 0 && trusted(realIp);
    const xAddr = believe ? xf.get('ADDR') : undefined;
    const xHelo = believe ? xf.get('HELO') : undefined;
    const from = session.envelope.mailFrom;
    return {
      sessionId: session.id,
      clientIp: typeof xAddr === 'string' && xAddr ? xAddr : realIp,
      clientHelo: typeof xHelo === 'string' && xHelo ? xHelo : (session.hostNameAppearsAs ?? null),
      mailFrom: from ? from.address : '',
      rcptTo: session.envelope.rcptTo.map((r) => r.address),
      raw,
      receivedAt: new Date(),
    };
  }

  return {
    get openSessions() {
      return sessions;
    },
    listen() {
      const { host, port } = parseHostPort(c.listen);
      return new Promise((resolve, reject) => {
        // A bind failure (port in use) is emitted on the underlying net.Server.
        server.server.once('error', reject);
        server.listen(port, host, () => {
          server.server.removeListener('error', reject);
          resolve((server.server.address() as AddressInfo).port);
        });
      });
    },
    close(graceMs) {
      return new Promise((resolve) => {
        // Stop accepting at once; smtp-server's close waits for open sessions up to closeTimeout.
        server.server.close();
        const deadline = Date.now() + graceMs;
        const poll = () => {
          if (sessions === 0 || Date.now() >= deadline) server.close(() => resolve());
          else setTimeout(poll, 50);
        };
        poll();
      });
    },
  };
}
