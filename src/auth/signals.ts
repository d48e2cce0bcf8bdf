/**
 * Authentication results as named signals (Rspamd style: a name a human recognises, and what it means).
 * They stand beside the classifier's features in the verdict explanation, the log and the API; they do not
 * change the score, which depends on the content alone (that is what the verdict cache is keyed by).
 */
import type { AuthRecord, AuthResult, AuthVerdict } from './types.js';

export interface AuthSignal {
  name: string;
  description: string;
}

const upper = (s: string) => s.toUpperCase();

export function authSignals(v: AuthVerdict, forgedHeadersRemoved = 0): AuthSignal[] {
  const out: AuthSignal[] = [];
  const spfDomain = v.spf.domain ?? 'the sender';
  out.push({ name: `SPF_${upper(v.spf.result)}`, description: `SPF ${v.spf.result} for ${spfDomain}` });

  if (v.dkim.length === 0) {
    out.push({
      name: v.error ? 'DKIM_TEMPERROR' : 'DKIM_NONE',
      description: v.error ? 'DKIM not verified' : 'no DKIM signature',
    });
  }
  for (const s of v.dkim) {
    const aligned = s.result === 'pass' && s.aligned;
    out.push({
      name: aligned ? 'DKIM_PASS_ALIGNED' : `DKIM_${upper(s.result)}`,
      description: `DKIM ${s.result} for d=${s.domain}${aligned ? ', aligned with From' : ''}`,
    });
  }

  const d = v.dmarc;
  const dmarcName =
    d.result === 'fail' && d.policy ? `DMARC_FAIL_${upper(d.policy)}` : `DMARC_${upper(d.result)}`;
  out.push({
    name: dmarcName,
    description: `DMARC ${d.result} for ${d.domain ?? 'the From domain'}${d.policy ? ` (p=${d.policy})` : ''}`,
  });

  if (v.arc.result !== 'none') {
    out.push({
      name: `ARC_${upper(v.arc.result)}`,
      description: `ARC chain ${v.arc.result}${v.arc.sealer ? `, sealed by ${v.arc.sealer}` : ''}`,
    });
  }
  if (forgedHeadersRemoved > 0) {
    out.push({
      name: 'AUTH_RESULTS_FORGED',
      description: `${forgedHeadersRemoved} incoming Authentication-Results claimed our authserv-id (removed)`,
    });
  }
  return out;
}

/** DKIM as one result: pass when any signature passed (alignment is DMARC's business), else the first one's. */
export function dkimResult(v: AuthVerdict): AuthResult {
  if (v.dkim.length === 0) return v.error ? 'temperror' : 'none';
  if (v.dkim.some((s) => s.result === 'pass')) return 'pass';
  return (v.dkim[0] as { result: AuthResult }).result;
}

/** One line for logs and reasons: `spf=pass dkim=pass dmarc=pass arc=none`. */
export function authSummary(v: AuthVerdict): string {
  return `spf=${v.spf.result} dkim=${dkimResult(v)} dmarc=${v.dmarc.result} arc=${v.arc.result}`;
}

/** The verdict as the log keeps it. */
export function authRecord(v: AuthVerdict, forgedHeadersRemoved = 0): AuthRecord {
  return {
    spf: v.spf.result,
    dkim: dkimResult(v),
    dmarc: v.dmarc.result,
    arc: v.arc.result,
    dmarcPolicy: v.dmarc.policy,
    fromDomain: v.fromDomain,
    signals: authSignals(v, forgedHeadersRemoved),
  };
}
