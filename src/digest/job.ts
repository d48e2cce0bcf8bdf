/**
 * The digest job: every digest.checkMinutes, each recipient with rows held since their last digest, whose
 * interval (digest.intervalHours, or their domain's in digest.domains; 0 = off) has passed and who has not
 * opted out (their digest's unsubscribe link, or an admin: preference.ts), gets one mail through the relay.
 * Instances share the work through the database: a recipient's digest is claimed by moving its last-sent
 * time, so two instances never send the same one.
 * A send the next hop refuses gives the claim back (the next round tries again) and counts as failed.
 */
import type { Config } from '../config/schema.js';
import { domainOf } from '../lists/entry.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import type { Relay } from '../smtp/types.js';
import type { DigestRecipient } from '../store/digest.js';
import type { Storage } from '../store/types.js';
import { composeDigest } from './compose.js';
import { type DigestAction, signToken } from './token.js';

export interface DigestDeps {
  config: Config;
  storage: Storage;
  relay: Relay;
  metrics: Metrics;
  logger: Logger;
  signingKey: Buffer;
  /** Where recipients reach this service (links): digest.baseUrl, else the API's bound address. */
  baseUrl: () => string;
}

/** Hours between two digests to this recipient; 0 when it gets none. */
export function intervalHours(recipient: string, digest: Config['digest']): number {
  if (!digest.enabled) return 0;
  return digest.domains[domainOf(recipient)] ?? digest.intervalHours;
}

export function isDue(r: DigestRecipient, digest: Config['digest'], now: Date): boolean {
  const hours = intervalHours(r.recipient, digest);
  if (hours <= 0 || r.disabled) return false;
  return r.lastSentAt === null || now.getTime() - r.lastSentAt.getTime() >= hours * 3_600_000;
}

export interface DigestJob {
  /** One round now; resolves with the digests sent and failed. */
  runOnce(now?: Date): Promise<{ sent: number; failed: number }>;
  stop(): void;
}

export function startDigestJob(deps: DigestDeps, options: { timer?: boolean } = {}): DigestJob {
  const { config, storage, metrics, logger } = deps;
  const cfg = config.digest;
  let running: Promise<{ sent: number; failed: number }> | null = null;

  const expiry = (now: Date, days: number) => Math.floor(now.getTime() / 1000 + days * 86_400);
  const base = () => deps.baseUrl().replace(/\/+$/, '');
  const link = (row: string, to: string, act: DigestAction, now: Date) =>
    `${base()}/ui/d/${signToken(deps.signingKey, { row, to, act, exp: expiry(now, cfg.linkDays) })}`;
  const subscription = (to: string, now: Date) =>
    `${base()}/ui/d/subscription/${signToken(deps.signingKey, { to, act: 'digests', exp: expiry(now, cfg.subscriptionDays) })}`;

  async function round(now: Date) {
    let sent = 0;
    let failed = 0;
    for (const r of await storage.digest.due()) {
      if (!isDue(r, cfg, now)) continue;
      if (!(await storage.digest.claim(r.recipient, r.lastSentAt, now))) continue;
      try {
        const rows = await storage.digest.heldFor(r.recipient, r.lastSentAt, cfg.maxItems);
        if (rows.length === 0) continue;
        const raw = await composeDigest({
          from: cfg.from,
          recipient: r.recipient,
          linkDays: cfg.linkDays,
          unsubscribe: subscription(r.recipient, now),
          rows: rows.map((row) => ({
            ...row,
            links: {
              release: link(row.id, r.recipient, 'release', now),
              delete: link(row.id, r.recipient, 'delete', now),
              allow: link(row.id, r.recipient, 'allow', now),
            },
          })),
        });
        const outcome = await deps.relay.send({ mailFrom: cfg.from, rcptTo: [r.recipient] }, raw);
        if (outcome.result !== 'ok') throw new Error(`next hop refused: ${outcome.response}`);
        sent++;
        metrics.digests.inc({ result: 'sent' });
      } catch (err) {
        failed++;
        metrics.digests.inc({ result: 'failed' });
        await storage.digest.release(r.recipient, r.lastSentAt, now).catch(() => {});
        logger.error(
          { event: 'DIGEST_FAILED', recipient: r.recipient, err: (err as Error).message },
          'quarantine digest not sent',
        );
      }
    }
    metrics.digestLastRun.set(Date.now() / 1000);
    return { sent, failed };
  }

  function runOnce(now = new Date()) {
    // One round at a time: a slow next hop must not make rounds overlap.
    if (!running)
      running = round(now).finally(() => {
        running = null;
      });
    return running;
  }

  const timer =
    cfg.enabled && options.timer !== false
      ? setInterval(
          () =>
            void runOnce().catch((err: Error) =>
              logger.error({ event: 'DIGEST_ROUND_FAILED', err: err.message }, 'digest round failed'),
            ),
          cfg.checkMinutes * 60_000,
        )
      : null;
  timer?.unref();
  if (cfg.enabled) metrics.digestLastRun.set(Date.now() / 1000);
  return {
    runOnce,
    stop: () => {
      if (timer) clearInterval(timer);
    },
  };
}
