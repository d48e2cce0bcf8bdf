/** What sender authentication found for one message: the shape every other part reads (policy, log, API). */

/** RFC 8601 result words (mailauth's `policy` is DKIM's "key too weak"). */
export type AuthResult =
  | 'pass'
  | 'fail'
  | 'softfail'
  | 'neutral'
  | 'none'
  | 'temperror'
  | 'permerror'
  | 'policy';

export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

export interface DkimSignature {
  result: AuthResult;
  /** d= */
  domain: string;
  /** s= */
  selector: string | null;
  /** d= aligns with the header From domain (relaxed, organisational domain). */
  aligned: boolean;
}

export interface AuthVerdict {
  spf: {
    result: AuthResult;
    /** The domain SPF checked: the MAIL FROM domain, or the HELO name for the null sender. */
    domain: string | null;
    /** False without a client address (POST /api/v1/scan given none): SPF was not evaluated, result none. */
    checked: boolean;
  };
  /** Every signature, in header order; empty when there is none. */
  dkim: DkimSignature[];
  dmarc: {
    result: AuthResult;
    /** The header From domain's organisational domain, when there is one. */
    domain: string | null;
    /** The policy that applies to this From domain (sp= for subdomains), null without a record. */
    policy: DmarcPolicy | null;
  };
  arc: {
    result: AuthResult;
    /** d= of the newest ARC-Seal. */
    sealer: string | null;
    /** DMARC result the newest sealer recorded (ARC-Authentication-Results), when it passed its chain. */
    sealedDmarc: AuthResult | null;
  };
  /** The header From address's domain, lower case; null for none or several From addresses. */
  fromDomain: string | null;
  /** The value of our Authentication-Results header (after the field name). */
  header: string;
  /** Wall time spent verifying, DNS included. */
  ms: number;
  /** Set when verification as a whole failed or ran out of time (every method is then temperror). */
  error: string | null;
}

export type AuthMethod = 'spf' | 'dkim' | 'dmarc' | 'arc';

/** What the verdict log, the API and the console keep of a verdict: one result per method and the signals. */
export interface AuthRecord {
  spf: AuthResult;
  /** The best signature's result: pass when one aligned signature passed. */
  dkim: AuthResult;
  dmarc: AuthResult;
  arc: AuthResult;
  dmarcPolicy: DmarcPolicy | null;
  fromDomain: string | null;
  /** False when SPF was not evaluated (no client address); absent in rows logged before it was recorded. */
  spfChecked?: boolean;
  /** The classifier's auth signals (features `x:<name>`), with what each said of this message. */
  signals: { name: string; description: string }[];
}
