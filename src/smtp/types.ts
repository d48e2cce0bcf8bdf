/** The relay's contract: deliver raw bytes to the next hop with the original envelope. */

export interface Envelope {
  /** '' is the null sender. */
  mailFrom: string;
  rcptTo: string[];
}

export interface RecipientResult {
  recipient: string;
  /** The next hop's reply code for this recipient (250, 450, 550, …). */
  code: number;
  response: string;
}

export interface RelayOutcome {
  /** ok: every recipient accepted; partial: some accepted, others refused; tempfail / permfail: none. */
  result: 'ok' | 'partial' | 'tempfail' | 'permfail';
  /** The next hop's final reply, or a description of the local failure (timeout, connection refused). */
  response: string;
  /** SMTP code to give upstream when nothing was accepted (4xx / 5xx). */
  code: number;
  recipients: RecipientResult[];
}

export interface Relay {
  send(envelope: Envelope, raw: Buffer): Promise<RelayOutcome>;
  close(): Promise<void>;
}
