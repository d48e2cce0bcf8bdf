/**
 * The proxy's hand-on: the stamped message goes to the next hop with the original envelope, and the next
 * hop's answer becomes the pipeline's HandOff. Recipients the next hop refuses permanently while others are
 * accepted are reported to the sender by DSN; any deferred recipient defers the whole message.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/log.js';
import { buildDsn } from '../pipeline/dsn.js';
import { stampMessage, stampUnscanned } from '../pipeline/headers.js';
import type { HandOff } from '../pipeline/outcome.js';
import type { HandOn, Transport } from '../pipeline/transport.js';
import type { Relay } from './types.js';

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
        response: outcome.response,
        detail: `Next hop deferred ${temporary.length} of ${m.recipients.length} recipients, try again later`,
      };
    }
    // Only permanent refusals: the others are delivered; the sender gets a DSN for the refused ones.
    if (mailFrom === '') {
      log.warn(
        { event: 'RELAY_PARTIAL_NO_DSN', refused: refused.map((r) => r.recipient) },
        'recipients refused; null sender gets no DSN',
      );
    } else {
      const dsn = buildDsn({
        reportingMta: config.smtp.hostname,
        sender: mailFrom,
        refused,
        originalHeaders: m.head,
        logId: m.id,
      });
      const sent = await relay.send({ mailFrom: '', rcptTo: [mailFrom] }, dsn);
      log.info(
        { event: 'DSN_SENT', refused: refused.map((r) => r.recipient), result: sent.result },
        'refused recipients reported to the sender',
      );
    }
    return { result: 'partial', response: outcome.response };
  }

  return { handOn };
}
