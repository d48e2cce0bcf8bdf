/**
 * How one message ended, independent of the transport that brought it (SMTP proxy or milter), and the one
 * table from that outcome to the reply, the logged action and the delivery status. Steps of the pipeline
 * return an Outcome; nothing else decides what upstream is told (Haraka's respond() model).
 */
import { type SmtpError, smtpErrors } from '../errors.js';
import type { MessageAction } from '../observability/metrics.js';
import type { DeliveryStatus } from '../store/types.js';
import type { ScoreAction } from './policy.js';
import type { ScanOutcome } from './types.js';

/** The reply for upstream. `code` 250 is success; the text starts with the enhanced status code. Any other
 * reply carries the SmtpError a transport hands on as it is (smtp-server's callback, a milter's reply). */
export interface Reply {
  code: number;
  text: string;
  error: SmtpError | null;
}

const accept = (text: string): Reply => ({ code: 250, text: `2.0.0 Ok: ${text}`, error: null });
const fail = (e: SmtpError): Reply => ({ code: e.responseCode, text: e.message, error: e });

/** What the transport reports after handing the message on (proxy: the next hop; milter: back to the MTA). */
export type HandOff =
  /** Every remaining recipient accepted; `response` is the next hop's reply (or the MTA's acceptance). */
  | { result: 'accepted'; response: string }
  /** Some recipients refused permanently (the sender was told by DSN), the others accepted. */
  | { result: 'partial'; response: string }
  /** Nothing may be taken for now: upstream must retry. `detail` is the text after `4.4.1`. */
  | { result: 'deferred'; response: string; detail: string }
  /** The next hop refused the message permanently with `code`. */
  | { result: 'refused'; code: number; response: string };

/** What the policy (or a failure on the way) made of the message. */
export interface Verdict {
  action: ScoreAction;
  reason: string;
  /** The score and model; null when no score was taken (lists, classifier failure passed open). */
  scan: ScanOutcome | null;
  /** The tag threshold in force (X-Spam-Status `required=`). */
  required: number;
  /** Recipients already held in quarantine while the message goes on to the others (split by recipient). */
  held?: string[];
}

export type Outcome =
  | { kind: 'bare-line-ending' }
  /** Over smtp.maxMessageSize: refused before any step (the transport kept only its first bytes). */
  | { kind: 'too-big'; size: number; limit: number }
  | { kind: 'scan-failed'; error: string }
  | { kind: 'rejected'; verdict: Verdict }
  | { kind: 'quarantined'; verdict: Verdict }
  | { kind: 'quarantine-failed'; verdict: Verdict }
  | { kind: 'handed-on'; verdict: Verdict; handOff: HandOff };

export interface Response {
  action: MessageAction;
  status: DeliveryStatus;
  reason: string;
  reply: Reply;
  /** What the verdict log keeps as the response: the next hop's reply when there was one, else ours. */
  response: string;
}

const ours = (r: Omit<Response, 'response'>): Response => ({
  ...r,
  response: `${r.reply.code} ${r.reply.text}`,
});

function handedOn(verdict: Verdict, h: HandOff, id: string): Response {
  const base = { action: verdict.action, reason: verdict.reason, response: h.response };
  const held = verdict.held?.length ?? 0;
  switch (h.result) {
    case 'accepted':
      if (held > 0) {
        return {
          ...base,
          action: 'quarantine',
          status: 'partial',
          reply: accept(`${id} held in quarantine for ${held}, passed on to the others`),
        };
      }
      return {
        ...base,
        status: 'delivered',
        reply: accept(`${id} delivered (next hop: ${h.response})`),
      };
    case 'partial':
      return {
        ...base,
        status: 'partial',
        reply: accept(`${id} delivered to some recipients`),
      };
    case 'deferred':
      return {
        ...base,
        action: 'tempfail',
        status: 'deferred',
        reply: fail(smtpErrors.relayTempfail(h.detail)),
      };
    case 'refused':
      return {
        ...base,
        action: h.code >= 400 && h.code < 500 ? 'tempfail' : verdict.action,
        status: 'bounced',
        reply: fail(smtpErrors.nextHopRefused(h.code, h.response.replace(/^\d{3}[ -]/, ''))),
      };
  }
}

/** The table: outcome → reply, logged action, status and reason. `id` is the message's log id. */
export function respond(o: Outcome, id: string): Response {
  switch (o.kind) {
    case 'too-big':
      return ours({
        action: 'reject',
        status: 'rejected',
        reason: `message of ${o.size} bytes is over smtp.maxMessageSize (${o.limit})`,
        reply: fail(smtpErrors.messageTooBig(o.limit)),
      });
    case 'bare-line-ending':
      return ours({
        action: 'reject',
        status: 'rejected',
        reason: 'bare LF or CR in message (SMTP smuggling defence)',
        reply: fail(smtpErrors.bareLineEnding()),
      });
    case 'scan-failed':
      return ours({
        action: 'tempfail',
        status: 'deferred',
        reason: `classifier failed: ${o.error}`,
        reply: fail(smtpErrors.localTempfail('Message could not be scanned, try again later')),
      });
    case 'rejected':
      return ours({
        action: 'reject',
        status: 'rejected',
        reason: o.verdict.reason,
        // Without a score the policy rejected on a rule (DMARC p=reject): the reply names it, not a score.
        reply: fail(
          o.verdict.scan
            ? smtpErrors.rejectedAsSpam(o.verdict.scan.score, id)
            : smtpErrors.rejectedByPolicy(o.verdict.reason, id),
        ),
      });
    case 'quarantined':
      return ours({
        action: 'quarantine',
        status: 'quarantined',
        reason: o.verdict.reason,
        reply: accept(`${id} held in quarantine`),
      });
    case 'quarantine-failed':
      return ours({
        action: 'tempfail',
        status: 'deferred',
        reason: `${o.verdict.reason}; quarantine store failed`,
        reply: fail(smtpErrors.localTempfail('Quarantine unavailable, try again later')),
      });
    case 'handed-on':
      return handedOn(o.verdict, o.handOff, id);
  }
}
