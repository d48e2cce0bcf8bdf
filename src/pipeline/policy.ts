/**
 * Policy (pure): block lists, trusted client networks, the From domain's DMARC policy, the sender allow list,
 * then the score against the thresholds of the recipients' domains. One message gets one action: with
 * recipients under different policies, the strictest action any of them asks for wins — a mail
 * administrator's per-domain "quarantine at 0.8" must hold even when the message also went to a laxer domain.
 * Every decision carries its reason.
 *
 * Sender authentication (src/auth/) feeds two rules. DMARC: a message failing DMARC under its From domain's
 * p=reject or p=quarantine gets the action `policy.dmarc` (or the recipient domain's override) names, unless
 * a trusted ARC sealer vouches that DMARC passed before it was forwarded. Allow entries: an entry with
 * `alignedOnly` (the default for @domain entries) applies only when SPF or DKIM authenticates the sender's
 * domain, so writing an allow-listed address in MAIL FROM is not enough to skip the filter.
 */
import { authenticatedBy } from '../auth/alignment.js';
import { authSummary } from '../auth/signals.js';
import type { AuthVerdict } from '../auth/types.js';
import type { Config, DmarcHonourValue, SenderEntryValue, Thresholds } from '../config/schema.js';
import {
  type ListEntry as DbEntry,
  domainOf,
  inScope,
  type ListName,
  senderMatches,
} from '../lists/entry.js';
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
  /** Sender authentication; null when it did not run (disabled): alignedOnly entries then never apply. */
  auth?: AuthVerdict | null;
}

/** An allow/block list entry: an address or an @domain; `alignedOnly` allow entries need authentication. */
export interface ListEntry {
  value: string;
  alignedOnly: boolean;
}

/** Config entries: a string (an @domain entry is aligned only), or `{ sender, alignedOnly }`. */
export function listEntry(e: SenderEntryValue): ListEntry {
  if (typeof e === 'string') return { value: e, alignedOnly: e.startsWith('@') };
  return { value: e.sender, alignedOnly: e.alignedOnly ?? e.sender.startsWith('@') };
}

function addressMatches(address: string, entries: readonly ListEntry[]): ListEntry | null {
  return entries.find((e) => senderMatches(e.value.toLowerCase(), address)) ?? null;
}

/**
 * The allow entry that applies to this sender, or why the ones that match do not (an alignedOnly entry and a
 * sender that SPF and DKIM do not authenticate: the forged allow-listed sender).
 */
export function allowedSender(
  input: PolicyInput,
  entries: readonly ListEntry[],
): { entry: ListEntry; by: 'spf' | 'dkim' | null } | { entry: null; refused: string | null } {
  if (!input.mailFrom) return { entry: null, refused: null };
  const domain = domainOf(input.mailFrom);
  let refused: string | null = null;
  for (const entry of entries) {
    if (!senderMatches(entry.value.toLowerCase(), input.mailFrom)) continue;
    if (!entry.alignedOnly) return { entry, by: null };
    const by = input.auth ? authenticatedBy(input.auth, domain) : null;
    if (by) return { entry, by };
    refused ??= `allow entry ${entry.value} ignored: sender not authenticated (${input.auth ? authSummary(input.auth) : 'not verified'})`;
  }
  return { entry: null, refused };
}

/**
 * The DMARC policy a failing message falls under, or null: DMARC passed, found no record, or was temperror
 * (policy cannot know the domain's wish, so the score decides), or a trusted ARC sealer recorded dmarc=pass
 * before forwarding broke it (RFC 8617 local policy: mailing lists and forwarders).
 */
export function dmarcFailure(
  auth: AuthVerdict | null | undefined,
  trustedArcSealers: readonly string[],
): 'reject' | 'quarantine' | null {
  if (auth?.dmarc.result !== 'fail') return null;
  const policy = auth.dmarc.policy;
  if (policy !== 'reject' && policy !== 'quarantine') return null;
  const sealer = auth.arc.sealer;
  const vouched =
    auth.arc.result === 'pass' &&
    auth.arc.sealedDmarc === 'pass' &&
    sealer !== null &&
    trustedArcSealers.some((t) => sealer === t.toLowerCase() || sealer.endsWith(`.${t.toLowerCase()}`));
  return vouched ? null : policy;
}

const networkOf = new WeakMap<DbEntry, (ip: string | null) => boolean>();

/**
 * The first database entry of `list` that decides this message (src/lists/, edited in the console and
 * /api/v1/lists). An aligned-only allow entry needs SPF or DKIM to authenticate the sender's domain, as the
 * config's allow entries do.
 */
export function listMatch(entries: readonly DbEntry[], list: ListName, input: PolicyInput): DbEntry | null {
  for (const e of entries) {
    if (e.list !== list || !inScope(e.scope, input.rcptTo)) continue;
    if (e.kind === 'network') {
      let matches = networkOf.get(e);
      if (!matches) {
        matches = networkMatcher([e.value]);
        networkOf.set(e, matches);
      }
      if (matches(input.clientIp)) return e;
      continue;
    }
    if (!senderMatches(e.value, input.mailFrom)) continue;
    if (list === 'allow' && e.alignedOnly) {
      const domain = domainOf(input.mailFrom);
      if (!input.auth || !authenticatedBy(input.auth, domain)) continue;
    }
    return e;
  }
  return null;
}

function listReason(e: DbEntry): string {
  return `${e.kind === 'network' ? 'client' : 'sender'} matches ${e.list} list entry ${e.value}${e.scope === 'global' ? '' : ` (for ${e.scope})`}`;
}

export interface Policy {
  /** The settings it decides by (the console shows their lists; a tagged subject gets their prefix). */
  readonly settings: Config['policy'];
  /** Lists and DMARC: a decision that needs no score, or null. */
  preDecide(input: PolicyInput): Decision | null;
  decide(score: number, input: PolicyInput): Decision;
}

/** A policy a configuration reload replaces: a message decided meanwhile uses the one in force at each step. */
export interface ReloadablePolicy extends Policy {
  replace(next: Policy): void;
}

export function reloadablePolicy(initial: Policy): ReloadablePolicy {
  let current = initial;
  return {
    get settings() {
      return current.settings;
    },
    preDecide: (input) => current.preDecide(input),
    decide: (score, input) => current.decide(score, input),
    replace(next) {
      current = next;
    },
  };
}

/** `lists`: the database's entries (src/lists/cache.ts); block entries of any source win over allow ones. */
export function createPolicy(
  config: Config['policy'],
  auth: { trustedArcSealers: readonly string[] },
  lists: () => readonly DbEntry[] = () => [],
): Policy {
  const allowNet = networkMatcher(config.allowClients);
  const blockNet = networkMatcher(config.blockClients);
  const allowSenders = config.allowSenders.map(listEntry);
  const blockSenders = config.blockSenders.map((value): ListEntry => ({ value, alignedOnly: false }));
  const tagRequired = config.thresholds.tag ?? 1;

  /** A decision made before scoring (a list entry, a DMARC failure): the message is not scored. */
  const unscored = (action: ScoreAction, reason: string): Decision => ({
    action,
    reason,
    required: tagRequired,
    scored: false,
  });

  function thresholdsFor(recipient: string): Thresholds {
    const override = config.domains[domainOf(recipient)];
    if (!override) return config.thresholds;
    const { dmarc: _dmarc, ...thresholds } = override;
    return { ...config.thresholds, ...thresholds };
  }

  function dmarcFor(recipient: string): DmarcHonourValue {
    const override = config.domains[domainOf(recipient)]?.dmarc;
    return override ? { ...config.dmarc, ...override } : config.dmarc;
  }

  /** The strictest action the recipients' domains give this DMARC failure, or null (none, or ignore). */
  function dmarcDecision(input: PolicyInput): Decision | null {
    const policy = dmarcFailure(input.auth, auth.trustedArcSealers);
    if (!policy || !input.auth) return null;
    let best: ScoreAction | null = null;
    for (const rcpt of input.rcptTo.length > 0 ? input.rcptTo : ['']) {
      const honour = dmarcFor(rcpt)[policy];
      if (honour === 'ignore') continue;
      if (best === null || SEVERITY[honour] > SEVERITY[best]) best = honour;
    }
    if (best === null) return null;
    return unscored(
      best,
      `DMARC fail for ${input.auth.dmarc.domain ?? 'the From domain'} under its p=${policy} (${authSummary(input.auth)})`,
    );
  }

  return {
    settings: config,
    preDecide(input) {
      if (blockNet(input.clientIp)) return unscored('quarantine', `client ${input.clientIp} on block list`);
      const blocked = input.mailFrom ? addressMatches(input.mailFrom, blockSenders) : null;
      if (blocked) return unscored('quarantine', `sender matches block list entry ${blocked.value}`);
      const dbBlocked = listMatch(lists(), 'block', input);
      if (dbBlocked) return unscored('quarantine', listReason(dbBlocked));
      if (allowNet(input.clientIp)) return unscored('pass', `client ${input.clientIp} on allow list`);
      const dmarc = dmarcDecision(input);
      if (dmarc) return dmarc;
      const allowed = allowedSender(input, allowSenders);
      if (allowed.entry)
        return unscored(
          'pass',
          `sender matches allow list entry ${allowed.entry.value}${allowed.by ? ` (${allowed.by} aligned)` : ''}`,
        );
      const dbAllowed = listMatch(lists(), 'allow', input);
      if (dbAllowed) return unscored('pass', listReason(dbAllowed));
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
              : `score ${s} >= ${action} ${(limit as number).toFixed(3)}${rcpt && config.domains[domainOf(rcpt)] ? ` (policy of ${rcpt.slice(rcpt.lastIndexOf('@') + 1)})` : ''}`;
          best = { action, reason, required: t.tag ?? 1, scored: true };
        }
      }
      // A forged allow-listed sender: the reason says why its entry did not spare it the scoring.
      const decision = best as Decision;
      const allowed = allowedSender(input, allowSenders);
      if (!allowed.entry && allowed.refused) decision.reason += `; ${allowed.refused}`;
      return decision;
    },
  };
}
