/**
 * smtp-server holds every new session 100 ms before its greeting, to catch clients that talk too soon (as
 * Postfix's postscreen greet pause does). MailSentra sits behind an MTA: for a trusted forwarder that pause
 * is pure latency and caps throughput at ten messages per second per concurrent session. This server skips
 * it for trusted clients and keeps it for everyone else. It reaches into two internals of smtp-server
 * (`SMTPConnection`, `_setListeners`), so a test pins the behaviour: the greeting of a trusted client must
 * arrive well under 100 ms, and an untrusted one must still wait.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { smtpErrors } from '../errors.js';

interface Connection {
  _server: { options: SMTPServerOptions; connections: Set<unknown> };
  name: string;
  _setListeners(callback: () => void): void;
  connectionReady(): void;
  send(code: number, text: string, context?: unknown): void;
  on(event: string, listener: (data: unknown) => void): void;
}

const require = createRequire(import.meta.url);
const { SMTPConnection } = require('smtp-server/lib/smtp-connection.js') as {
  SMTPConnection: new (server: SMTPServer, socket: Socket, options: unknown) => Connection;
};

export class TrustingSMTPServer extends SMTPServer {
  /**
   * `proxyFrom`: the peers that must open with a PROXY protocol header (load balancers). smtp-server's
   * `useProxy` takes single addresses and lets every other peer talk SMTP directly; when a load balancer
   * stands in front, a direct connection would bypass it and its client address, so others are refused.
   */
  constructor(
    options: SMTPServerOptions,
    private readonly trusted: (ip: string) => boolean,
    private readonly proxyFrom: ((ip: string) => boolean) | null = null,
  ) {
    super(proxyFrom ? { ...options, useProxy: true } : options);
  }

  /** smtp-server's step before `connect`: reads the PROXY header (useProxy); refuses untrusted peers first. */
  override _handleProxy(socket: Socket, callback: Parameters<SMTPServer['_handleProxy']>[1]): void {
    if (this.proxyFrom && !this.proxyFrom(socket.remoteAddress ?? '')) {
      const e = smtpErrors.clientNotAllowed();
      socket.on('error', () => {});
      socket.end(`${e.responseCode} ${e.message}\r\n`);
      setTimeout(() => socket.destroy(), 1000).unref();
      callback(new Error(`PROXY protocol expected, ${socket.remoteAddress} is not a trusted proxy`));
      return;
    }
    super._handleProxy(socket, callback);
  }

  override connect(socket: Socket, socketOptions: unknown): void {
    // The same steps as SMTPServer#connect and SMTPConnection#init, minus the pause for trusted clients.
    const self = this as unknown as {
      connections: Set<unknown>;
      _onError(err: unknown): void;
      _onClientConnect(data: unknown): void;
    };
    const connection = new SMTPConnection(this, socket, socketOptions);
    self.connections.add(connection);
    connection.on('error', (err) => self._onError(err));
    connection.on('connect', (data) => self._onClientConnect(data));
    const trusted = this.trusted(socket.remoteAddress ?? '');
    connection._setListeners(() => {
      // smtp-server's own session-limit reply has no enhanced status code; this one is 421 4.7.0.
      const { maxClients } = connection._server.options;
      if (maxClients && connection._server.connections.size > maxClients) {
        const e = smtpErrors.tooManySessions();
        connection.send(e.responseCode, e.message, false);
        return;
      }
      if (trusted) connection.connectionReady();
      else setTimeout(() => connection.connectionReady(), 100).unref();
    });
  }
}
