/**
 * Authentication results as named signals of the classifier (Rspamd style: a name a human recognises, and
 * what it said of this message). Each name is a feature `x:<name>` (classifier/signals.ts), learned from site
 * feedback like any other: the bundled corpus has no live results, so their weights start at 0. The names
 * are also what the log, the API and the explanation show. A method that was not run gives no signal (SPF
 * without a client address), so "not checked" is never learned as "none".
 */
import type { AuthRecord, AuthResult, AuthVerdict } from './types.js';

export interface AuthSignal {
  name: string;
  description: string;
}

export function authSignals(v: AuthVerdict, forgedHeadersRemoved = 0): AuthSignal[] {
  const out: AuthSignal[] = [];
  if (v.spf.checked) {
    const spfDomain = v.spf.domain ?? 'the sender';
    out.push({ name: `spf-${v.spf.result}`, description: `SPF ${v.spf.result} for ${spfDomain}` });
  }

  if (v.dkim.length === 0) {
    out.push({
      name: v.error ? 'dkim-temperror' : 'dkim-none',
      description: v.error ? 'DKIM not verified' : 'no DKIM signature',
    });
  }
  for (const s of v.dkim) {
    const aligned = s.result === 'pass' && s.aligned;
    out.push({
      name: aligned ? 'dkim-pass-aligned' : `dkim-${s.result}`,
      description: `DKIM ${s.result} for d=${s.domain}${aligned ? ', aligned with From' : ''}`,
    });
  }

  const d = v.dmarc;
  out.push({
    name: d.result === 'fail' && d.policy ? `dmarc-fail-${d.policy}` : `dmarc-${d.result}`,
    description: `DMARC ${d.result} for ${d.domain ?? 'the From domain'}${d.policy ? ` (p=${d.policy})` : ''}`,
  });

  if (v.arc.result !== 'none') {
    out.push({
      name: `arc-${v.arc.result}`,
      description: `ARC chain ${v.arc.result}${v.arc.sealer ? `, sealed by ${v.arc.sealer}` : ''}`,
    });
  }
  if (forgedHeadersRemoved > 0) {
    out.push({
      name: 'auth-results-forged',
      description: `${forgedHeadersRemoved} incoming Authentication-Results claimed our authserv-id (removed)`,
    });
  }
  // One per name (two signatures with the same result are one feature), in a stable order.
  const byName = new Map(out.map((s) => [s.name, s]));
  return [...byName.values()];
}

/** The signal names of a logged record (null: not verified, no signals). */
export const signalNames = (record: AuthRecord | null): string[] =>
  record ? record.signals.map((s) => s.name) : [];

/** DKIM as one result: pass when any signature passed (alignment is DMARC's business), else the first one's. */
export function dkimResult(v: AuthVerdict): AuthResult {
  if (v.dkim.length === 0) return v.error ? 'temperror' : 'none';
  if (v.dkim.some((s) => s.result === 'pass')) return 'pass';
  return (v.dkim[0] as { result: AuthResult }).result;
}

/** One line for logs and reasons: `spf=pass dkim=pass dmarc=pass arc=none`. */
export function authSummary(v: AuthVerdict): string {
  const spf = v.spf.checked ? v.spf.result : 'none (not checked)';
  return `spf=${spf} dkim=${dkimResult(v)} dmarc=${v.dmarc.result} arc=${v.arc.result}`;
}

/** The verdict as the log keeps it. */
export function authRecord(v: AuthVerdict, forgedHeadersRemoved = 0): AuthRecord {
  return {
    spf: v.spf.result,
    spfChecked: v.spf.checked,
    dkim: dkimResult(v),
    dmarc: v.dmarc.result,
    arc: v.arc.result,
    dmarcPolicy: v.dmarc.policy,
    fromDomain: v.fromDomain,
    signals: authSignals(v, forgedHeadersRemoved),
  };
}
