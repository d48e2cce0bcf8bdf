/**
 * SPF, DKIM, DMARC and ARC for one message, with mailauth's authenticate() and our resolver. The client
 * address, HELO and MAIL FROM come from the transport (the connection, or XFORWARD / milter data from a
 * trusted MTA), never from Received headers. Never throws: a failure or an overrun of the time budget gives a
 * verdict whose methods are all temperror, and policy decides what that means.
 */
import type { DNSResolver } from 'mailauth';
import type { Metrics } from '../observability/metrics.js';
import { withTimeout } from '../util/timeout.js';
import { formatAuthResults } from './ar-header.js';
import { namesToPrefetch } from './prefetch.js';
import type { MailauthResolver, Resolver } from './resolver.js';
import { withFirstSignatures } from './signature-limit.js';
import type { AuthMethod, AuthResult, AuthVerdict, DkimSignature, DmarcPolicy } from './types.js';
import {
  type AuthResults,
  authenticateUnsigned,
  headerBlock,
  isUnsigned,
  loadUnsignedModules,
  type UnsignedModules,
} from './unsigned.js';

export interface AuthInput {
  raw: Buffer;
  clientIp: string | null;
  helo: string | null;
  /** '' for the null sender. */
  mailFrom: string;
}

export interface Verifier {
  verify(input: AuthInput): Promise<AuthVerdict>;
}

export interface VerifierOptions {
  authservId: string;
  /** Shorter DKIM/ARC keys fail (RFC 8301: at least 1024). */
  minKeyBits: number;
  /** The DNS budget of one message; the whole verification gets this plus a second of CPU. */
  budgetMs: number;
}

const RESULTS: ReadonlySet<string> = new Set([
  'pass',
  'fail',
  'softfail',
  'neutral',
  'none',
  'temperror',
  'permerror',
  'policy',
]);

/** mailauth also says "temperr" and "skipped"; anything unknown counts as neutral. */
export function resultWord(value: unknown): AuthResult {
  if (value === 'temperr') return 'temperror';
  if (value === 'skipped') return 'none';
  return typeof value === 'string' && RESULTS.has(value) ? (value as AuthResult) : 'neutral';
}

const POLICIES: ReadonlySet<string> = new Set(['none', 'quarantine', 'reject']);
const policyWord = (value: unknown): DmarcPolicy | null =>
  typeof value === 'string' && POLICIES.has(value.toLowerCase())
    ? (value.toLowerCase() as DmarcPolicy)
    : null;

function domainOf(address: string): string | null {
  const at = address.lastIndexOf('@');
  const domain = (at === -1 ? address : address.slice(at + 1)).trim().replace(/[<>]/g, '').toLowerCase();
  return domain || null;
}

/** The verdict when nothing could be verified (an exception, or the time budget ran out). */
export function failedVerdict(
  authservId: string,
  error: string,
  ms: number,
  fromDomain: string | null = null,
) {
  const verdict: AuthVerdict = {
    spf: { result: 'temperror', domain: null, checked: true },
    dkim: [],
    dmarc: { result: 'temperror', domain: fromDomain, policy: null },
    arc: { result: 'temperror', sealer: null, sealedDmarc: null },
    fromDomain,
    header: '',
    ms,
    error,
  };
  verdict.header = formatAuthResults(authservId, [
    'spf=temperror',
    'dkim=temperror',
    'dmarc=temperror',
    'arc=temperror',
  ]);
  return verdict;
}

/** mailauth's result → our verdict (pure; exported for tests). */
export function toVerdict(authservId: string, r: AuthResults, ms: number, spfChecked = true): AuthVerdict {
  const headerFrom = r.dkim.headerFrom ?? [];
  const fromDomain = headerFrom.length === 1 ? domainOf(headerFrom[0] as string) : null;
  const dkim: DkimSignature[] = (r.dkim.results ?? [])
    .filter((s) => s.signingDomain)
    .map((s) => ({
      result: resultWord(s.status.result),
      domain: s.signingDomain.toLowerCase(),
      selector: s.selector ?? null,
      aligned: Boolean(s.status.aligned),
    }));
  const chain = r.arc ? r.arc.chain : undefined;
  const newest = chain && chain.length > 0 ? chain[chain.length - 1] : undefined;
  const sealer = newest?.['arc-seal']?.parsed?.d?.value;
  const arcResult = r.arc ? resultWord(r.arc.status.result) : 'none';
  const sealedDmarc = (r.arc ? r.arc.authenticationResults : undefined)?.dmarc?.result;
  const infos = [
    ...(r.dkim.results ?? []).map((s) => s.info),
    ...(r.spf && spfChecked ? [r.spf.info] : []),
    ...(r.arc ? [r.arc.info] : []),
    ...(r.dmarc ? [r.dmarc.info] : []),
  ].filter((info): info is string => typeof info === 'string' && info.length > 0);
  return {
    spf:
      r.spf && spfChecked
        ? { result: resultWord(r.spf.status.result), domain: r.spf.domain || null, checked: true }
        : { result: 'none', domain: null, checked: spfChecked },
    dkim,
    dmarc: r.dmarc
      ? {
          result: resultWord(r.dmarc.status.result),
          domain: r.dmarc.domain || fromDomain,
          policy: r.dmarc.status.result === 'none' ? null : policyWord(r.dmarc.policy),
        }
      : { result: 'none', domain: fromDomain, policy: null },
    arc: {
      result: arcResult,
      sealer: typeof sealer === 'string' ? sealer.toLowerCase() : null,
      sealedDmarc: arcResult === 'pass' && sealedDmarc !== undefined ? resultWord(sealedDmarc) : null,
    },
    fromDomain,
    header: formatAuthResults(authservId, infos),
    ms,
    error: null,
  };
}

/** The results counted in mailsentra_auth_results_total: one per method, one per DKIM signature. */
export function countResults(metrics: Metrics, v: AuthVerdict): void {
  const inc = (method: AuthMethod, result: AuthResult) => metrics.authResults.inc({ method, result });
  if (v.spf.checked) inc('spf', v.spf.result);
  if (v.dkim.length === 0) inc('dkim', v.error ? 'temperror' : 'none');
  for (const s of v.dkim) inc('dkim', s.result);
  inc('dmarc', v.dmarc.result);
  inc('arc', v.arc.result);
}

type MailAuth = typeof import('mailauth');

export function createVerifier(
  options: VerifierOptions,
  deps: { resolver: Resolver; metrics: Metrics },
): Verifier {
  const { resolver, metrics } = deps;
  const limitMs = options.budgetMs + 1000;
  // mailauth is loaded with the first message, not with the service: evaluating it (DKIM, ARC, BIMI and
  // their crypto and DNS helpers) is a tenth of a second that every start would spend before /ready.
  // Its CommonJS exports through `default`: Node's own import and the bundle's chunk (which has no named
  // exports for a CommonJS module) both give module.exports there. A message with no DKIM or ARC field in
  // its header, most mail, goes through unsigned.ts: mailauth's SPF and DMARC without its DKIM parser.
  let mailauth: Promise<MailAuth> | undefined;
  let unsignedModules: Promise<UnsignedModules> | undefined;
  // The envelope as mailauth takes it, for either path.
  const envelopeOf = (input: AuthInput, resolve: MailauthResolver) => ({
    ip: input.clientIp ?? undefined,
    helo: input.helo ?? undefined,
    sender: input.mailFrom || undefined,
    mta: options.authservId,
    // mailauth's typings omit MX answers ({ exchange, priority }[]), which its SPF code reads.
    resolver: resolve as DNSResolver,
  });
  const verifyWithMailauth = async (head: Buffer, input: AuthInput, resolve: MailauthResolver) => {
    mailauth ??= import('mailauth').then((m: MailAuth & { default?: MailAuth }) => m.default ?? m);
    const { authenticate } = await mailauth;
    // Signed: the whole message, whose body each DKIM signature hashes (the first few: signature-limit.ts).
    return authenticate(withFirstSignatures(input.raw, head), {
      ...envelopeOf(input, resolve),
      minBitLength: options.minKeyBits,
      disableBimi: true,
    });
  };
  const verifyUnsigned = async (head: Buffer, input: AuthInput, resolve: MailauthResolver) => {
    unsignedModules ??= loadUnsignedModules();
    return authenticateUnsigned(head, envelopeOf(input, resolve), await unsignedModules);
  };
  return {
    async verify(input) {
      const started = performance.now();
      const elapsed = () => performance.now() - started;
      let verdict: AuthVerdict;
      const resolve = resolver.forMessage();
      for (const [name, type] of namesToPrefetch(input.raw, input.mailFrom, input.helo)) {
        // Warm names are left to mailauth's own lookup: asking twice would only double the work.
        if (resolver.inMemory(name, type)) continue;
        resolve(name, type).catch(() => {}); // mailauth's own lookup of the name reports any failure
      }
      try {
        const head = headerBlock(input.raw);
        const result = await withTimeout(
          isUnsigned(head) ? verifyUnsigned(head, input, resolve) : verifyWithMailauth(head, input, resolve),
          limitMs,
          () => new Error(`verification took longer than ${limitMs} ms`),
        );
        verdict = toVerdict(options.authservId, result, elapsed(), input.clientIp !== null);
      } catch (err) {
        verdict = failedVerdict(options.authservId, (err as Error).message, elapsed());
      }
      countResults(metrics, verdict);
      return verdict;
    },
  };
}
