/**
 * What happens to one message after DATA, and what upstream is told. The rule: 250 only when the next hop
 * accepted the message or the quarantine row is committed; any failure after DATA is a 4xx so the upstream
 * MTA keeps the message and retries. Every message gets one verdict-log row and its metrics.
 */
import { randomUUID } from 'node:crypto';
import { decodeHeaderWords, headerValue, parseHeaders, splitHeaderBody } from '../classifier/mime.js';
import type { Config } from '../config/schema.js';
import { smtpErrors } from '../errors.js';
import type { Logger } from '../observability/log.js';
import type { MessageAction, Metrics } from '../observability/metrics.js';
import type { Relay, RelayOutcome } from '../smtp/types.js';
import type { DeliveryStatus, MessageLogEntry, Storage } from '../store/types.js';
import { buildDsn } from './dsn.js';
import { hasBareLineEnding, normaliseLineEndings, stampMessage, stampUnscanned } from './headers.js';
import type { Decision, Policy } from './policy.js';
import type { Scanner, ScanOutcome } from './types.js';

export interface Delivery {
  sessionId: string;
  clientIp: string | null;
  clientHelo: string | null;
  mailFrom: string;
  rcptTo: string[];
  raw: Buffer;
  receivedAt: Date;
}

/** The reply for upstream. `code` 250 is success; the text starts with the enhanced status code. */
export interface Reply {
  code: number;
  text: string;
}

export interface ProcessDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  scanner: Scanner;
  policy: Policy;
  relay: Relay;
  storage: Pick<Storage, 'messages' | 'quarantine'>;
}

const DAY_MS = 86_400_000;

function headerSummary(raw: Buffer): {
  subject: string | null;
  from: string | null;
  messageId: string | null;
  head: string;
} {
  const { head } = splitHeaderBody(raw.subarray(0, 65_536).toString('latin1'));
  const headers = parseHeaders(head);
  const decode = (name: string) => {
    const v = headerValue(headers, name);
    return v === null ? null : decodeHeaderWords(v).slice(0, 998);
  };
  return {
    subject: decode('subject'),
    from: decode('from'),
    messageId: headerValue(headers, 'message-id'),
    head,
  };
}

function relayReply(outcome: RelayOutcome, id: string): { reply: Reply; status: DeliveryStatus } {
  switch (outcome.result) {
    case 'ok':
      return {
        reply: { code: 250, text: `2.0.0 Ok: ${id} delivered (next hop: ${outcome.response})` },
        status: 'delivered',
      };
    case 'tempfail':
      return {
        reply: { code: 451, text: `4.4.1 Next hop deferred: ${outcome.response}` },
        status: 'deferred',
      };
    case 'permfail':
      return {
        reply: { code: outcome.code, text: outcome.response.replace(/^\d{3}[ -]/, '') },
        status: 'bounced',
      };
    case 'partial':
      return {
        reply: { code: 250, text: `2.0.0 Ok: ${id} delivered to some recipients` },
        status: 'partial',
      };
  }
}

export function createMessageProcessor(deps: ProcessDeps) {
  const { config, logger, metrics, scanner, policy, relay, storage } = deps;

  async function deliver(
    id: string,
    d: Delivery,
    raw: Buffer,
    head: string,
    log: Logger,
  ): Promise<{ reply: Reply; status: DeliveryStatus; response: string }> {
    const outcome = await relay.send({ mailFrom: d.mailFrom, rcptTo: d.rcptTo }, raw);
    if (outcome.result === 'partial') {
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
          reply: {
            code: 451,
            text: `4.4.1 Next hop deferred ${temporary.length} of ${d.rcptTo.length} recipients, try again later`,
          },
          status: 'deferred',
          response: outcome.response,
        };
      }
      // Only permanent refusals: the others are delivered; the sender gets a DSN for the refused ones.
      if (d.mailFrom === '') {
        log.warn(
          { event: 'RELAY_PARTIAL_NO_DSN', refused: refused.map((r) => r.recipient) },
          'recipients refused; null sender gets no DSN',
        );
      } else {
        const dsn = buildDsn({
          reportingMta: config.smtp.hostname,
          sender: d.mailFrom,
          refused,
          originalHeaders: head,
          logId: id,
        });
        const sent = await relay.send({ mailFrom: '', rcptTo: [d.mailFrom] }, dsn);
        log.info(
          { event: 'DSN_SENT', refused: refused.map((r) => r.recipient), result: sent.result },
          'refused recipients reported to the sender',
        );
      }
    }
    const { reply, status } = relayReply(outcome, id);
    return { reply, status, response: outcome.response };
  }

  return async function processMessage(d: Delivery): Promise<Reply> {
    const started = performance.now();
    const id = randomUUID();
    const log = logger.child({ sessionId: d.sessionId, messageId: id });
    let raw = d.raw;
    const summary = headerSummary(raw);
    let scan: ScanOutcome | null = null;
    let decision: Decision | null = null;
    let action: MessageAction;
    let status: DeliveryStatus;
    let reply: Reply;
    let response: string | null = null;
    let reason: string;

    const finish = () => {
      const totalMs = performance.now() - started;
      metrics.messages.inc({ action });
      metrics.messageDuration.observe(totalMs / 1000);
      const entry: MessageLogEntry = {
        id,
        receivedAt: d.receivedAt,
        sessionId: d.sessionId,
        clientIp: d.clientIp,
        clientHelo: d.clientHelo,
        mailFrom: d.mailFrom,
        rcptTo: d.rcptTo,
        messageIdHeader: summary.messageId,
        headerFrom: summary.from,
        subject: summary.subject,
        size: d.raw.length,
        contentHash: scan?.contentHash ?? scanner.contentHash(raw),
        score: scan?.score ?? null,
        action,
        reason,
        modelVersion: scan?.modelVersion ?? null,
        topFeatures: scan?.topFeatures ?? [],
        scanMs: scan?.scanMs ?? null,
        totalMs,
        status,
        response: response ?? `${reply.code} ${reply.text}`,
        raw: config.retention.rawDays > 0 && action !== 'quarantine' ? d.raw : null,
      };
      storage.messages.record(entry);
      log.info(
        {
          event: 'MESSAGE_DONE',
          action,
          status,
          score: entry.score,
          reason,
          reply: reply.code,
          ms: Math.round(totalMs),
        },
        'message handled',
      );
      return reply;
    };

    if (hasBareLineEnding(raw)) {
      if (config.smtp.bareLineEndings === 'reject') {
        const err = smtpErrors.bareLineEnding();
        action = 'reject';
        status = 'rejected';
        reason = 'bare LF or CR in message (SMTP smuggling defence)';
        reply = { code: err.responseCode, text: err.message };
        return finish();
      }
      raw = normaliseLineEndings(raw);
    }

    decision = policy.preDecide({ mailFrom: d.mailFrom, rcptTo: d.rcptTo, clientIp: d.clientIp });
    if (!decision) {
      try {
        scan = await scanner.scan(raw);
        decision = policy.decide(scan.score, {
          mailFrom: d.mailFrom,
          rcptTo: d.rcptTo,
          clientIp: d.clientIp,
        });
      } catch (err) {
        log.error({ event: 'SCAN_FAILED', err: (err as Error).message }, 'classifier failed');
        if (config.failure.classifier === 'tempfail') {
          const e = smtpErrors.localTempfail('Message could not be scanned, try again later');
          action = 'tempfail';
          status = 'deferred';
          reason = `classifier failed: ${(err as Error).message}`;
          reply = { code: e.responseCode, text: e.message };
          return finish();
        }
        // Fail-open by configuration: delivered without a verdict (no X-Spam-Flag), and logged as such.
        reason = `classifier failed, passed unscanned: ${(err as Error).message}`;
        action = 'pass';
        const delivered = await deliver(id, d, stampUnscanned(raw, id), summary.head, log);
        ({ reply, status, response } = delivered);
        if (reply.code >= 400 && reply.code < 500) action = 'tempfail';
        return finish();
      }
    }
    reason = decision.reason;
    action = decision.action;

    if (decision.action === 'reject') {
      const err = smtpErrors.rejectedAsSpam(scan?.score ?? 1, id);
      status = 'rejected';
      reply = { code: err.responseCode, text: err.message };
      return finish();
    }

    if (decision.action === 'quarantine') {
      try {
        await storage.quarantine.hold({
          messageId: id,
          mailFrom: d.mailFrom,
          recipients: d.rcptTo,
          subject: summary.subject,
          headerFrom: summary.from,
          score: scan?.score ?? null,
          reason: decision.reason,
          raw,
          expiresAt: new Date(Date.now() + config.retention.quarantineDays * DAY_MS),
        });
        status = 'quarantined';
        reply = { code: 250, text: `2.0.0 Ok: ${id} held in quarantine` };
        return finish();
      } catch (err) {
        log.error(
          { event: 'QUARANTINE_FAILED', err: (err as Error).message },
          'quarantine could not be stored',
        );
        if (config.failure.quarantineStore === 'tempfail') {
          const e = smtpErrors.localTempfail('Quarantine unavailable, try again later');
          action = 'tempfail';
          status = 'deferred';
          reason = `${decision.reason}; quarantine store failed`;
          reply = { code: e.responseCode, text: e.message };
          return finish();
        }
        // Configured to deliver it tagged rather than defer.
        action = 'tag';
        reason = `${decision.reason}; quarantine store failed, delivered tagged`;
      }
    }

    const spam = action === 'tag' || action === 'quarantine';
    const stamped =
      decision.scored && scan
        ? stampMessage(raw, {
            spam,
            score: scan.score,
            threshold: decision.required,
            model: scan.modelVersion,
            logId: id,
            subjectPrefix: spam ? config.policy.subjectPrefix || null : null,
          })
        : stampUnscanned(raw, id);
    const delivered = await deliver(id, d, stamped, summary.head, log);
    ({ reply, status, response } = delivered);
    if (reply.code >= 400 && reply.code < 500) action = 'tempfail';
    return finish();
  };
}
