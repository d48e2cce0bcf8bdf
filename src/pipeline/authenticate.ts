/**
 * The pipeline's sender-authentication step: verify the message as received, then remove incoming
 * Authentication-Results that claim our authserv-id (forgeries), and prepare ours. Never throws (the verifier
 * turns every failure into temperror).
 */
import { authResultsLine, stripOurAuthResults } from '../auth/ar-header.js';
import type { SenderAuth } from '../auth/index.js';
import { authRecord } from '../auth/signals.js';
import type { AuthRecord, AuthVerdict } from '../auth/types.js';

export interface Authenticated {
  verdict: AuthVerdict;
  /** What the log keeps. */
  record: AuthRecord;
  /** The message without the forged Authentication-Results. */
  raw: Buffer;
  /** Our header field, CRLF-terminated, to prepend on hand-on. */
  headerLine: string;
}

export async function authenticateMessage(
  auth: SenderAuth,
  envelope: { clientIp: string | null; clientHelo: string | null; mailFrom: string },
  raw: Buffer,
): Promise<Authenticated> {
  const verdict = await auth.verifier.verify({
    raw,
    clientIp: envelope.clientIp,
    helo: envelope.clientHelo,
    mailFrom: envelope.mailFrom,
  });
  const stripped = stripOurAuthResults(raw, auth.authservId);
  return {
    verdict,
    record: authRecord(verdict, stripped.removed),
    raw: stripped.raw,
    headerLine: authResultsLine(verdict.header),
  };
}
