/**
 * The proxy's hand-on: the stamped message goes to the next hop with the original envelope, and the next
 * hop's answer becomes the pipeline's HandOff. Recipients the next hop refuses permanently while others are
 * accepted are reported to the sender by DSN; any deferred recipient, or a DSN that cannot be sent for now,
 * defers the whole message.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/log.js';
import { buildDsn } from '../pipeline/dsn.js';
import { stampMessage, stampUnscanned } from '../pipeline/headers.js';
import type { HandOff } from '../pipeline/outcome.js';
import type { HandOn, Transport } from '../pipeline/transport.js';
import type { RecipientResult, Relay } from './types.js';

/** What the verdict log keeps of the recipients that were not accepted: each with the next hop's reply. */
function replies(recipients: readonly RecipientResult[]): string {
  return recipients.map((r) => `${r.recipient}: ${r.response}`).join('; ');
}

export function createForwarder(deps: { config: Config; relay: Relay }): Transport {
  const { config, relay } = deps;

  async function handOn(m: HandOn, log: Logger): Promise<HandOff> {
    // Our Authentication-Results right above the message's own headers, below our X-Spam-* lines.
    const authed = m.authResults ? Buffer.concat([Buffer.from(m.authResults, 'utf8'), m.raw]) : m.raw;
    const raw = m.stamp ? stampMessage(authed, m.stamp) : stampUnscanned(authed, m.id);
    const { mailFrom } = m.delivery;
    const outcome = await relay.send({ mailFrom, rcptTo: m.recipients }, raw);
    switch (outcome.result) {
      case 'ok':
        return { result: 'accepted', response: outcome.response };
      case 'tempfail':
        return {
          result: 'deferred',
          response: outcome.response,
          detail: `Next hop deferred: ${outcome.response}`,
        };
      case 'permfail':
        return { result: 'refused', code: outcome.code, response: outcome.response };
      case 'partial':
        break;
    }
    const refused = outcome.recipients.filter((r) => r.code >= 400);
    const temporary = refused.filter((r) => r.code < 500);
    if (temporary.length > 0) {
      // Some recipients deferred: the sender's MTA must retry them, so the whole message gets a 4xx. The
      // recipients already accepted will receive a second copy — a duplicate, never a loss.
      log.warn(
        { event: 'RELAY_PARTIAL_TEMPFAIL', deferred: temporary.map((r) => r.recipient) },
        'next hop deferred some recipients; asking upstream to retry',
      );
      return {
        result: 'deferred',
        response: replies(temporary),
        detail: `Next hop deferred ${temporary.length} of ${m.recipients.length} recipients, try again later`,
      };
    }
    // Only permanent refusals: the others are delivered; the sender gets a DSN for the refused ones.
    if (mailFrom === '') {
      log.warn(
        { event: 'RELAY_PARTIAL_NO_DSN', refused: refused.map((r) => r.recipient) },
        'recipients refused; null sender gets no DSN',
      );
      return { result: 'partial', response: replies(refused) };
    }
    const dsn = buildDsn({
      reportingMta: config.smtp.hostname,
      sender: mailFrom,
      refused,
      originalHeaders: m.head,
      logId: m.id,
    });
    const sent = await relay.send({ mailFrom: '', rcptTo: [mailFrom] }, dsn);
    const names = refused.map((r) => r.recipient);
    if (sent.result === 'ok') {
      log.info({ event: 'DSN_SENT', refused: names }, 'refused recipients reported to the sender');
      return { result: 'partial', response: replies(refused) };
    }
    if (sent.result === 'permfail') {
      // The next hop refuses mail to the sender's address itself: an upstream bounce could not reach it
      // either, and a retry would only deliver the accepted recipients' copy again.
      log.error(
        { event: 'DSN_REFUSED', refused: names, response: sent.response },
        'recipients refused, and the report to the sender was refused too',
      );
      return { result: 'partial', response: `${replies(refused)}; DSN refused: ${sent.response}` };
    }
    // The report could not be sent for now: a refused recipient must not vanish unreported, so upstream
    // retries the whole message (a second copy for the accepted ones, as for a deferred recipient).
    log.warn(
      { event: 'DSN_DEFERRED', refused: names, response: sent.response },
      'recipients refused and the report to the sender could not be sent; asking upstream to retry',
    );
    return {
      result: 'deferred',
      response: `${replies(refused)}; DSN not sent: ${sent.response}`,
      detail: `Next hop refused ${refused.length} of ${m.recipients.length} recipients and the report could not be sent, try again later`,
    };
  }

  return { handOn };
}
