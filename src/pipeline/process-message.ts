/**
 * What happens to one message once its bytes are in, whatever transport brought it: a sequence of small
 * steps (line endings, judge, reject, quarantine, hand on), each ending the message with an Outcome or
 * passing it on; `respond()` (outcome.ts) turns the outcome into the reply; one log row and one log line at
 * the end. The transport (SMTP proxy, milter) only brings the Delivery and hands the message on.
 *
 * The rule: 250 only when the next hop accepted the message or the quarantine row is committed; any failure
 * after DATA is a 4xx so the upstream MTA keeps the message and retries.
 */
import { randomUUID } from 'node:crypto';
import { stripOurAuthResults } from '../auth/ar-header.js';
import type { SenderAuth } from '../auth/index.js';
import { authSummary, signalNames } from '../auth/signals.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import type { MessageLogEntry, Storage } from '../store/types.js';
import { withTimeout } from '../util/timeout.js';
import { type Authenticated, authenticateMessage } from './authenticate.js';
import { hasBareLineEnding, normaliseLineEndings, type Stamp } from './headers.js';
import { type Outcome, type Reply, respond, type Verdict } from './outcome.js';
import type { Policy, PolicyInput } from './policy.js';
import { headerSummary, type Summary } from './summary.js';
import type { Delivery, Transport } from './transport.js';
import type { Scanner } from './types.js';

export type { Reply } from './outcome.js';

export interface PipelineDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  scanner: Scanner;
  policy: Policy;
  storage: Pick<Storage, 'messages' | 'quarantine'>;
  /** Sender authentication; null: off (auth.enabled). */
  auth?: SenderAuth | null;
}

const DAY_MS = 86_400_000;

/** One message on its way through the steps. */
interface InFlight {
  id: string;
  delivery: Delivery;
  log: Logger;
  summary: Summary;
  /** The bytes scanned, stored and handed on (after the line-ending step). */
  raw: Buffer;
  /** Sender authentication, once the step ran (null: off). */
  auth: Authenticated | null;
}

const inputOf = (d: Delivery): PolicyInput => ({
  mailFrom: d.mailFrom,
  rcptTo: d.rcptTo,
  clientIp: d.clientIp,
});

const isOutcome = (v: Verdict | Outcome): v is Outcome => 'kind' in v;

export function createMessageProcessor(deps: PipelineDeps) {
  const { config, logger, metrics, scanner, policy, storage } = deps;
  const authservId = deps.auth?.authservId ?? config.auth.authservId ?? config.smtp.hostname;

  /** Step: bare LF/CR is refused or repaired (smtp.bareLineEndings). */
  function lineEndings(raw: Buffer): Buffer | Outcome {
    if (!hasBareLineEnding(raw)) return raw;
    if (config.smtp.bareLineEndings === 'reject') return { kind: 'bare-line-ending' };
    return normaliseLineEndings(raw);
  }

  /** Step: lists, else score and thresholds. A classifier failure defers or passes unscanned (failure.classifier). */
  async function judge(m: InFlight): Promise<Verdict | Outcome> {
    const input = { ...inputOf(m.delivery), auth: m.auth?.verdict ?? null };
    const listed = policy.preDecide(input);
    if (listed)
      return { action: listed.action, reason: listed.reason, scan: null, required: listed.required };
    try {
      const scan = await scanner.scan(m.raw, signalNames(m.auth?.record ?? null));
      const decision = policy.decide(scan.score, input);
      return { action: decision.action, reason: decision.reason, scan, required: decision.required };
    } catch (err) {
      const error = (err as Error).message;
      m.log.error({ event: 'SCAN_FAILED', err: error }, 'classifier failed');
      if (config.failure.classifier === 'tempfail') return { kind: 'scan-failed', error };
      // Fail-open by configuration: delivered without a verdict (no X-Spam-Flag), and logged as such.
      return {
        action: 'pass',
        reason: `classifier failed, passed unscanned: ${error}`,
        scan: null,
        required: 1,
      };
    }
  }

  /** Step: the quarantine row committed before upstream hears 250; a store failure defers or tags
   * (failure.quarantineStore). */
  async function quarantine(m: InFlight, v: Verdict, held: string[]): Promise<Verdict | Outcome> {
    try {
      // Bounded: a database that stops answering (not one that refuses) must not hold upstream past its
      // own timeout, which would retry a message we may yet store (a duplicate at worst, never a loss).
      const limit = config.database.timeoutMs;
      await withTimeout(
        storage.quarantine.hold({
          messageId: m.id,
          mailFrom: m.delivery.mailFrom,
          recipients: held,
          subject: m.summary.subject,
          headerFrom: m.summary.from,
          score: v.scan?.score ?? null,
          reason: v.reason,
          raw: m.raw,
          expiresAt: new Date(Date.now() + config.retention.quarantineDays * DAY_MS),
        }),
        limit,
        () => new Error(`the database did not answer within ${limit} ms (database.timeoutMs)`),
      );
      if (held.length === m.delivery.rcptTo.length) return { kind: 'quarantined', verdict: v };
      return forOthers(m, v, held);
    } catch (err) {
      m.log.error(
        { event: 'QUARANTINE_FAILED', err: (err as Error).message },
        'quarantine could not be stored',
      );
      if (config.failure.quarantineStore === 'tempfail') return { kind: 'quarantine-failed', verdict: v };
      // Configured to deliver it tagged rather than defer.
      return { ...v, action: 'tag', reason: `${v.reason}; quarantine store failed, delivered tagged` };
    }
  }

  /** The recipients a quarantine verdict holds: all, or, when the transport can split, those whose own
   * domain's thresholds quarantine the message. */
  function heldRecipients(m: InFlight, v: Verdict, transport: Transport): string[] {
    const all = m.delivery.rcptTo;
    if (!transport.splitsRecipients || v.scan === null || all.length < 2) return all;
    const score = v.scan.score;
    return all.filter((r) => {
      const own = policy.decide(score, {
        ...inputOf(m.delivery),
        auth: m.auth?.verdict ?? null,
        rcptTo: [r],
      });
      return own.action === 'quarantine' || own.action === 'reject';
    });
  }

  /** The recipients not in `held`, in their order (a set: messages may have thousands). */
  function notHeld(all: readonly string[], held: readonly string[]): string[] {
    const heldSet = new Set(held);
    return all.filter((r) => !heldSet.has(r));
  }

  /** After some recipients were held: the verdict for the others (their strictest own action). */
  function forOthers(m: InFlight, v: Verdict, held: string[]): Verdict {
    const others = notHeld(m.delivery.rcptTo, held);
    const score = v.scan?.score ?? 1;
    const d = policy.decide(score, { ...inputOf(m.delivery), auth: m.auth?.verdict ?? null, rcptTo: others });
    // A message to thousands of recipients (a milter has no recipient limit) must not log them all here.
    const named =
      held.length <= 5 ? held.join(', ') : `${held.slice(0, 3).join(', ')} and ${held.length - 3} more`;
    return {
      ...v,
      action: d.action,
      reason: `${v.reason}: held for ${named}; ${d.reason} for the others`,
      required: d.required,
      held,
    };
  }

  /** Step: the transport passes it on, stamped with the verdict. */
  async function handOn(m: InFlight, v: Verdict, transport: Transport): Promise<Outcome> {
    const spam = v.action === 'tag' || v.action === 'quarantine';
    const stamp: Stamp | null = v.scan
      ? {
          spam,
          score: v.scan.score,
          threshold: v.required,
          model: v.scan.modelVersion,
          logId: m.id,
          subjectPrefix: spam ? policy.settings.subjectPrefix || null : null,
        }
      : null;
    const held = v.held ?? [];
    const handOff = await transport.handOn(
      {
        id: m.id,
        delivery: m.delivery,
        raw: m.raw,
        head: m.summary.head,
        stamp,
        authResults: m.auth?.headerLine ?? null,
        authservId,
        recipients: notHeld(m.delivery.rcptTo, held),
        quarantined: held,
      },
      m.log,
    );
    return { kind: 'handed-on', verdict: v, handOff };
  }

  async function run(m: InFlight, transport: Transport): Promise<Outcome> {
    const raw = lineEndings(m.raw);
    if (!Buffer.isBuffer(raw)) return raw;
    m.raw = raw;
    if (deps.auth) {
      // Step: SPF, DKIM, DMARC, ARC on the message as received; forged Authentication-Results removed.
      m.auth = await authenticateMessage(deps.auth, m.delivery, m.raw);
      m.raw = m.auth.raw;
    } else {
      // No verification, yet a result claiming our name must not reach the mailbox as if we wrote it.
      m.raw = stripOurAuthResults(m.raw, authservId).raw;
    }
    let verdict = await judge(m);
    if (isOutcome(verdict)) return verdict;
    if (verdict.action === 'reject') return { kind: 'rejected', verdict };
    if (verdict.action === 'quarantine') {
      verdict = await quarantine(m, verdict, heldRecipients(m, verdict, transport));
      if (isOutcome(verdict)) return verdict;
    }
    return handOn(m, verdict, transport);
  }

  /** The one log row, metrics and log line of a message (`delivery.raw` of a too-big one is its first bytes). */
  function finish(m: InFlight, outcome: Outcome, started: number): Reply {
    const r = respond(outcome, m.id);
    const totalMs = performance.now() - started;
    const scan = 'verdict' in outcome ? outcome.verdict.scan : null;
    metrics.messages.inc({ action: r.action });
    metrics.messageDuration.observe(totalMs / 1000);
    const d = m.delivery;
    const entry: MessageLogEntry = {
      id: m.id,
      receivedAt: d.receivedAt,
      sessionId: d.sessionId,
      clientIp: d.clientIp,
      clientHelo: d.clientHelo,
      mailFrom: d.mailFrom,
      rcptTo: d.rcptTo,
      messageIdHeader: m.summary.messageId,
      headerFrom: m.summary.from,
      subject: m.summary.subject,
      size: outcome.kind === 'too-big' ? outcome.size : d.raw.length,
      contentHash: scan?.contentHash ?? scanner.contentHash(m.raw),
      score: scan?.score ?? null,
      action: r.action,
      reason: r.reason,
      modelVersion: scan?.modelVersion ?? null,
      topFeatures: scan?.topFeatures ?? [],
      scanMs: scan?.scanMs ?? null,
      totalMs,
      status: r.status,
      response: r.response,
      // Not the first bytes of a message refused for its size: no use for learning, nor as evidence.
      raw:
        config.retention.rawDays > 0 && r.action !== 'quarantine' && outcome.kind !== 'too-big'
          ? d.raw
          : null,
      auth: m.auth?.record ?? null,
    };
    storage.messages.record(entry);
    m.log.info(
      {
        event: 'MESSAGE_DONE',
        action: r.action,
        status: r.status,
        score: entry.score,
        ...(scan?.evidence ? { evidence: scan.evidence } : {}),
        reason: r.reason,
        auth: m.auth ? authSummary(m.auth.verdict) : null,
        reply: r.reply.code,
        ms: Math.round(totalMs),
      },
      'message handled',
    );
    return r.reply;
  }

  const inFlight = (delivery: Delivery): InFlight => {
    const id = randomUUID();
    return {
      id,
      delivery,
      log: logger.child({ sessionId: delivery.sessionId, messageId: id }),
      summary: headerSummary(delivery.raw),
      raw: delivery.raw,
      auth: null,
    };
  };
  const processMessage = async (delivery: Delivery, transport: Transport): Promise<Reply> => {
    const started = performance.now();
    const m = inFlight(delivery);
    return finish(m, await run(m, transport), started);
  };
  return Object.assign(processMessage, {
    tooBig(delivery: Delivery, size: number): Reply {
      return finish(
        inFlight(delivery),
        { kind: 'too-big', size, limit: config.smtp.maxMessageSize },
        performance.now(),
      );
    },
  });
}
