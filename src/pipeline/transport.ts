/**
 * The contract between the message pipeline (process-message.ts) and a transport that brings it messages
 * and passes them on: the SMTP proxy relays what it is handed, the milter gives it back to the MTA.
 */
import type { Logger } from '../observability/log.js';
import type { Stamp } from './headers.js';
import type { HandOff } from './outcome.js';

/** A transport's listener, as the app starts and stops it. */
export interface Listener {
  /** Resolves with the TCP port (0 for a unix socket). */
  listen(): Promise<number>;
  /** Stops accepting; what is in flight gets `graceMs` to finish (a message its reply), then is cut. */
  close(graceMs: number): Promise<void>;
  /** Connections open now: SMTP sessions, or MTA connections to the milter. */
  readonly openConnections: number;
}

export interface Delivery {
  sessionId: string;
  clientIp: string | null;
  clientHelo: string | null;
  mailFrom: string;
  rcptTo: string[];
  raw: Buffer;
  receivedAt: Date;
}

/** A message the pipeline lets through, as the transport gets it. */
export interface HandOn {
  /** The log id (X-MailSentra-Id, the `ref` of a reject). */
  id: string;
  delivery: Delivery;
  /** The message as scanned (line endings normalised), without our headers. */
  raw: Buffer;
  /** Its header section, as text. */
  head: string;
  /** Our X-Spam-* verdict; null: passed without a score (lists, fail-open), only X-MailSentra-Id is added. */
  stamp: Stamp | null;
  /** Our Authentication-Results header field (CRLF-terminated), null when auth is off: added on hand-on. */
  authResults: string | null;
  /** Our authserv-id: an incoming Authentication-Results claiming it is a forgery, removed whether or not
   * auth is on (RFC 8601 §5). */
  authservId: string;
  /** The recipients it goes to: all of the envelope's but those held in quarantine. */
  recipients: string[];
  /** Recipients held in quarantine (only when the transport splits recipients): the transport removes them. */
  quarantined: string[];
}

/** How a transport passes a message on: the proxy relays it, the milter gives it back to the MTA. */
export interface Transport {
  handOn(message: HandOn, log: Logger): Promise<HandOff>;
  /**
   * It can take a message on for some recipients only (a milter removes recipients at end of message): then
   * each recipient gets its own domain's quarantine decision. Otherwise the strictest recipient decides for
   * all, since one relayed copy goes to everyone.
   */
  splitsRecipients?: boolean;
}
