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
import type { Reply } from '../pipeline/process-message.js';
import type { Delivery, Listener } from '../pipeline/transport.js';
import { networkMatcher } from '../util/networks.js';
import { TrustingSMTPServer } from './greet-pause.js';

/** What a refused oversize message keeps for its log row (the summary reads no further). */
const SUMMARY_BYTES = 65_536;

function firstBytes(chunks: readonly Buffer[], limit: number): Buffer {
  const kept: Buffer[] = [];
  let total = 0;
  for (const chunk of chunks) {
    if (total >= limit) break;
    kept.push(chunk.subarray(0, limit - total));
    total += Math.min(chunk.length, limit - total);
  }
  return Buffer.concat(kept);
}

export function createInboundServer(deps: {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  onMessage(delivery: Delivery): Promise<Reply>;
  /** A message over smtp.maxMessageSize (`delivery.raw` is its first bytes): its log row and reply. */
  onTooBig?(delivery: Delivery, size: number): Reply;
}): Listener {
  const { config, logger, metrics } = deps;
  const c = config.smtp;
  const allowed = networkMatcher(c.allowNetworks);
  const trusted = networkMatcher(c.trustedForwarders);
  const origin = new Map<
    string,
    { ip: string; messages: number; deciding: boolean; deadline: ReturnType<typeof setTimeout> }
  >();
  let sessions = 0;
  /** Set by close(): no new transaction starts; the messages already being decided are answered. */
  let closing = false;
  const tls = c.tlsCert && c.tlsKey ? { cert: readFileSync(c.tlsCert), key: readFileSync(c.tlsKey) } : null;

  const server = new TrustingSMTPServer(
    {
      name: c.hostname,
      banner: 'MailSentra ESMTP',
      size: c.maxMessageSize,
      maxClients: c.maxSessions,
      socketTimeout: c.idleTimeoutMs,
      // close() below holds the grace itself; past it, smtp-server answers 421 to what is left at once (0
      // would mean its default of 30 s).
      closeTimeout: 1,
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
          return callback(smtpErrors.clientNotAllowed());
        }
        const deadline = setTimeout(() => expire(session.id), c.sessionTimeoutMs).unref();
        origin.set(session.id, { ip, messages: 0, deciding: false, deadline });
        sessions++;
        metrics.smtpSessions.set(sessions);
        callback();
      },
      onClose(session) {
        clearTimeout(origin.get(session.id)?.deadline);
        if (origin.delete(session.id)) {
          sessions--;
          metrics.smtpSessions.set(sessions);
        }
      },
      onMailFrom(_address, session, callback) {
        if (closing) return callback(smtpErrors.shuttingDown());
        const o = origin.get(session.id);
        if (o && o.messages >= c.maxMessagesPerSession) {
          return callback(smtpErrors.tooManyMessages());
        }
        callback();
      },
      onRcptTo(_address, session, callback) {
        if (session.envelope.rcptTo.length >= c.maxRecipients) {
          return callback(smtpErrors.tooManyRecipients());
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
        stream.once('error', (err) => callback(smtpErrors.readFailed(err.message)));
        stream.once('end', () => {
          if (
            (stream as typeof stream & { sizeExceeded?: boolean }).sizeExceeded ||
            size > c.maxMessageSize
          ) {
            // Its first bytes are enough for the log row's summary; the rest is never copied.
            const reply = deps.onTooBig?.(deliveryOf(session, firstBytes(chunks, SUMMARY_BYTES)), size);
            return callback(reply?.error ?? smtpErrors.messageTooBig(c.maxMessageSize));
          }
          const o = origin.get(session.id);
          if (o) {
            o.messages++;
            o.deciding = true;
          }
          deps
            .onMessage(deliveryOf(session, Buffer.concat(chunks, size)))
            .finally(() => {
              if (o) o.deciding = false;
            })
            .then((reply) => (reply.error ? callback(reply.error) : callback(null, reply.text)))
            .catch((err: unknown) => {
              // A defect must not lose mail: the client keeps it and retries.
              logger.error(
                { event: 'MESSAGE_FAILED', sessionId: session.id, err: (err as Error).message },
                'unexpected failure',
              );
              callback(err instanceof SmtpError ? err : smtpErrors.localTempfail());
            });
        });
      },
    },
    trusted,
    c.proxyProtocolFrom.length > 0 ? networkMatcher(c.proxyProtocolFrom) : null,
  );
  // A failed bind is reported by whoever called listen(), once.
  let binding = false;
  server.on('error', (err) => {
    if (!binding) logger.warn({ event: 'SMTP_SERVER_ERROR', err: err.message }, 'smtp server error');
  });

  /**
   * `smtp.sessionTimeoutMs`: the idle timeout alone does not bound a session, since every byte resets it (a
   * client trickling a byte a second holds a slot forever). At the deadline the session gets 421 and is
   * closed, unless a message it sent is waiting for its verdict: that one is answered first.
   */
  function expire(sessionId: string): void {
    const o = origin.get(sessionId);
    if (!o) return;
    if (o.deciding) {
      o.deadline = setTimeout(() => expire(sessionId), 1000).unref();
      return;
    }
    logger.info({ event: 'SMTP_SESSION_EXPIRED', sessionId, ip: o.ip }, 'session time limit reached');
    // smtp-server keeps its connections in an internal set (greet-pause.ts relies on it too); send(421) closes.
    const { connections } = server as unknown as {
      connections: Set<{ id: string; send(code: number, text: string): void }>;
    };
    for (const connection of connections) {
      if (connection.id === sessionId)
        connection.send(421, '4.4.2 Session time limit exceeded, closing connection');
    }
  }

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
    get openConnections() {
      return sessions;
    },
    listen() {
      const { host, port } = parseHostPort(c.listen);
      binding = true;
      return new Promise((resolve, reject) => {
        // A bind failure (port in use) is emitted on the underlying net.Server.
        const failed = (err: Error) => {
          binding = false;
          reject(err);
        };
        server.server.once('error', failed);
        server.listen(port, host, () => {
          binding = false;
          server.server.removeListener('error', failed);
          resolve((server.server.address() as AddressInfo).port);
        });
      });
    },
    close(graceMs) {
      return new Promise((resolve) => {
        // Stop accepting at once; at the end, smtp-server's close answers 421 to the sessions left.
        server.server.close();
        closing = true;
        const deadline = Date.now() + graceMs;
        // Past the grace, a message already being decided is still answered first (its work is bounded by
        // the scan, database and relay timeouts): a 421 while it goes on to the next hop would have the
        // client send it again.
        const deciding = () => [...origin.values()].some((o) => o.deciding);
        const poll = () => {
          if (sessions === 0 || (Date.now() >= deadline && !deciding())) server.close(() => resolve());
          else setTimeout(poll, 50);
        };
        poll();
      });
    },
  };
}
