/**
 * Policy (pure): allow/block lists first, then the score against the thresholds of the recipients' domains.
 * One message gets one action: with recipients under different thresholds, the strictest action any of
 * them asks for wins — a mail administrator's per-domain "quarantine at 0.8" must hold even when the
 * message also went to a laxer domain. Every decision carries its reason.
 */
import type { Config, Thresholds } from '../config/schema.js';
import { networkMatcher } from '../util/networks.js';

export type ScoreAction = 'pass' | 'tag' | 'quarantine' | 'reject';

const SEVERITY: Record<ScoreAction, number> = { pass: 0, tag: 1, quarantine: 2, reject: 3 };

export function actionForScore(score: number, thresholds: Thresholds): ScoreAction {
  if (thresholds.reject !== null && score >= thresholds.reject) return 'reject';
  if (thresholds.quarantine !== null && score >= thresholds.quarantine) return 'quarantine';
  if (thresholds.tag !== null && score >= thresholds.tag) return 'tag';
  return 'pass';
}

export interface Decision {
  action: ScoreAction;
  reason: string;
  /** The tag threshold in force (X-Spam-Status `required=`). */
  required: number;
  /** false when a list decided without scoring. */
  scored: boolean;
}

export interface PolicyInput {
  mailFrom: string;
  rcptTo: string[];
  clientIp: string | null;
}

function addressMatches(address: string, entries: readonly string[]): string | null {
  const a = address.toLowerCase();
  const domain = a.slice(a.lastIndexOf('@') + 1);
  for (const e of entries) {
    const entry = e.toLowerCase();
    if (
      entry.startsWith('@') ? domain === entry.slice(1) || domain.endsWith(`.${entry.slice(1)}`) : a === entry
    ) {
      return e;
    }
  }
  return null;
}

export interface Policy {
  /** Lists only: a decision that needs no score, or null. */
  preDecide(input: PolicyInput): Decision | null;
  decide(score: number, input: PolicyInput): Decision;
}

export function createPolicy(config: Config['policy']): Policy {
  const allowNet = networkMatcher(config.allowClients);
  const blockNet = networkMatcher(config.blockClients);
  const tagRequired = config.thresholds.tag ?? 1;

  function thresholdsFor(recipient: string): Thresholds {
    const domain = recipient.slice(recipient.lastIndexOf('@') + 1).toLowerCase();
    const override = config.domains[domain];
    return override ? { ...config.thresholds, ...override } : config.thresholds;
  }

  return {
    preDecide(input) {
      if (blockNet(input.clientIp)) {
        return {
          action: 'quarantine',
          reason: `client ${input.clientIp} on block list`,
          required: tagRequired,
          scored: false,
        };
      }
      const blocked = input.mailFrom ? addressMatches(input.mailFrom, config.blockSenders) : null;
      if (blocked)
        return {
          action: 'quarantine',
          reason: `sender matches block list entry ${blocked}`,
          required: tagRequired,
          scored: false,
        };
      if (allowNet(input.clientIp)) {
        return {
          action: 'pass',
          reason: `client ${input.clientIp} on allow list`,
          required: tagRequired,
          scored: false,
        };
      }
      const allowed = input.mailFrom ? addressMatches(input.mailFrom, config.allowSenders) : null;
      if (allowed)
        return {
          action: 'pass',
          reason: `sender matches allow list entry ${allowed}`,
          required: tagRequired,
          scored: false,
        };
      return null;
    },
    decide(score, input) {
      let best: Decision | null = null;
      const recipients = input.rcptTo.length > 0 ? input.rcptTo : [''];
      for (const rcpt of recipients) {
        const t = thresholdsFor(rcpt);
        const action = actionForScore(score, t);
        if (best === null || SEVERITY[action] > SEVERITY[best.action]) {
          const limit = action === 'pass' ? t.tag : t[action];
          const s = score.toFixed(3);
          const reason =
            action === 'pass'
              ? `score ${s} < tag ${limit === null ? 'off' : limit.toFixed(3)}`
              : `score ${s} >= ${action} ${(limit as number).toFixed(3)}${rcpt && config.domains[rcpt.slice(rcpt.lastIndexOf('@') + 1).toLowerCase()] ? ` (policy of ${rcpt.slice(rcpt.lastIndexOf('@') + 1)})` : ''}`;
          best = { action, reason, required: t.tag ?? 1, scored: true };
        }
      }
      return best as Decision;
    },
  };
}
