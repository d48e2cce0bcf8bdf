import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authservIdOf } from '../../src/auth/ar-header.js';
import { authSignals } from '../../src/auth/signals.js';
import { MAX_DKIM_SIGNATURES, withFirstSignatures } from '../../src/auth/signature-limit.js';
import type { AuthVerdict } from '../../src/auth/types.js';
import type { AuthInput } from '../../src/auth/verify.js';
import { loadConfig } from '../../src/config/load.js';
import { createPolicy } from '../../src/pipeline/policy.js';
import {
  forwardedByList,
  LIST_IP,
  ORIGIN_IP,
  plainMessage,
  populate,
  STRANGER_IP,
  selectors,
  signedMessage,
  testVerifier,
} from '../helpers/auth-world.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';

let dns: TestDns;
beforeAll(async () => {
  dns = await startTestDns();
  populate(dns);
  dns.add('ranges.authorg.example', {
    type: 'TXT',
    data: 'v=spf1 ip4:198.51.100.0/24 ip6:2001:db8:5::/48 -all',
  });
});
afterAll(async () => {
  await dns.close();
});

const policyConfig = (policy: Record<string, unknown> = {}, auth: Record<string, unknown> = {}) =>
  loadConfig({ file: null, env: {}, overrides: { policy, auth } });

type Sender = Omit<AuthInput, 'raw'>;
const ORIGIN: Sender = {
  clientIp: ORIGIN_IP,
  helo: 'mail.authorg.example',
  mailFrom: 'alice@authorg.example',
};
const LIST: Sender = {
  clientIp: LIST_IP,
  helo: 'mail.authlist.example',
  mailFrom: 'team-bounces@authlist.example',
};
const stranger = (mailFrom: string, helo = 'x.invalid'): Sender => ({
  clientIp: STRANGER_IP,
  helo,
  mailFrom,
});

/** The policy's decision before scoring, for a verified message from `sender` to bob@example.com. */
function preDecide(
  auth: AuthVerdict,
  sender: Sender,
  options: { policy?: Record<string, unknown>; auth?: Record<string, unknown>; rcptTo?: string[] } = {},
) {
  const config = policyConfig(options.policy, options.auth);
  return createPolicy(config.policy, config.auth).preDecide({
    mailFrom: sender.mailFrom,
    rcptTo: options.rcptTo ?? ['bob@example.com'],
    clientIp: sender.clientIp,
    auth,
  });
}

/** `signed` with `count` more DKIM-Signature fields after its own (each its own l=, folded over two lines). */
function withExtraSignatures(signed: Buffer, count: number): Buffer {
  const text = signed.toString('latin1');
  const firstField = /\r\n(?![ \t])/.exec(text);
  const at = (firstField?.index ?? 0) + 2;
  const extra = Array.from(
    { length: count },
    (_, i) =>
      `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=extra${i}.example; s=x; l=${i + 1};\r\n\th=from; bh=AAAA; b=AAAA\r\n`,
  ).join('');
  return Buffer.concat([signed.subarray(0, at), Buffer.from(extra, 'latin1'), signed.subarray(at)]);
}

describe('the DKIM signatures verified', () => {
  it("are the first few: the rest leave the verifier's copy, folded lines and all, and the body stays", async () => {
    const signed = await signedMessage();
    expect(withFirstSignatures(signed, signed)).toBe(signed); // one signature: the message itself
    const many = withExtraSignatures(signed, 20);
    const copy = withFirstSignatures(many, many.subarray(0, many.indexOf('\r\n\r\n') + 4)).toString('latin1');
    expect(copy.match(/^DKIM-Signature:/gm)).toHaveLength(MAX_DKIM_SIGNATURES);
    expect(copy).not.toContain(`d=extra${MAX_DKIM_SIGNATURES - 1}.example`);
    expect(copy).toBe(withExtraSignatures(signed, MAX_DKIM_SIGNATURES - 1).toString('latin1'));
  });
});

describe('verifier against the loopback DNS server', () => {
  it('verifies only the first DKIM signatures of a message that carries many, its own among them', async () => {
    const { verifier } = testVerifier(dns);
    const v = await verifier.verify({ raw: withExtraSignatures(await signedMessage(), 40), ...ORIGIN });
    expect(v.dkim).toHaveLength(MAX_DKIM_SIGNATURES);
    expect(v.dkim[0]).toMatchObject({ result: 'pass', domain: 'authorg.example' });
    expect(v.dmarc.result).toBe('pass');
  });

  it('passes SPF, DKIM and DMARC for a signed message from a permitted address', async () => {
    const { verifier, metrics } = testVerifier(dns);
    const v = await verifier.verify({ raw: await signedMessage(), ...ORIGIN });
    expect(v.error).toBeNull();
    expect(v.spf).toEqual({ result: 'pass', domain: 'authorg.example', checked: true });
    expect(v.dkim).toEqual([
      { result: 'pass', domain: 'authorg.example', selector: selectors.origin, aligned: true },
    ]);
    expect(v.dmarc).toEqual({ result: 'pass', domain: 'authorg.example', policy: 'reject' });
    expect(v.arc.result).toBe('none');
    expect(authservIdOf(v.header)).toBe('mx.mailsentra.test');
    expect(v.header).toMatch(/dkim=pass/);
    expect(v.header).toMatch(/spf=pass/);
    expect(v.header).toMatch(/dmarc=pass/);
    expect(authSignals(v).map((s) => s.name)).toEqual(['spf-pass', 'dkim-pass-aligned', 'dmarc-pass']);
    const counted = await metrics.authResults.get();
    const value = (method: string, result: string) =>
      counted.values.find((x) => x.labels.method === method && x.labels.result === result)?.value;
    expect(value('spf', 'pass')).toBe(1);
    expect(value('dkim', 'pass')).toBe(1);
    expect(value('dmarc', 'pass')).toBe(1);
    expect(value('arc', 'none')).toBe(1);
  });

  // The SPF ranges go through mailauth's matchIp, patched to parse each range with its own family's parser.
  it.each([
    ['198.51.100.77', 'pass'],
    ['198.51.101.1', 'fail'],
    ['2001:db8:5::9', 'pass'],
    ['2001:db8:6::9', 'fail'],
  ])('matches SPF ip4/ip6 CIDR ranges: %s → %s', async (clientIp, result) => {
    const { verifier } = testVerifier(dns);
    const v = await verifier.verify({
      raw: plainMessage('Alice <alice@ranges.authorg.example>'),
      clientIp,
      helo: 'mail.ranges.authorg.example',
      mailFrom: 'alice@ranges.authorg.example',
    });
    expect(v.spf).toEqual({ result, domain: 'ranges.authorg.example', checked: true });
  });

  it('fails a spoofed p=reject domain, and policy rejects it', async () => {
    const { verifier } = testVerifier(dns);
    const v = await verifier.verify({
      raw: plainMessage('Bank <security@authbank.example>', 'Verify your account'),
      ...stranger('security@authbank.example', 'spoofer.invalid'),
    });
    expect(v.spf.result).toBe('fail');
    expect(v.dkim).toEqual([]);
    expect(v.dmarc).toEqual({ result: 'fail', domain: 'authbank.example', policy: 'reject' });
    expect(authSignals(v).map((s) => s.name)).toContain('dmarc-fail-reject');
    const spoofer = stranger('security@authbank.example', 'spoofer.invalid');
    const decision = preDecide(v, spoofer);
    expect(decision?.action).toBe('reject');
    expect(decision?.scored).toBe(false);
    expect(decision?.reason).toMatch(/DMARC fail for authbank\.example under its p=reject/);
    // A recipient domain that asked for quarantine instead, beside one that takes the default: the strictest.
    const lax = { domains: { 'example.com': { dmarc: { reject: 'quarantine' } } } };
    expect(preDecide(v, spoofer, { policy: lax })?.action).toBe('quarantine');
    const rcptTo = ['bob@example.com', 'eve@other.example'];
    expect(preDecide(v, spoofer, { policy: lax, rcptTo })?.action).toBe('reject');
    expect(preDecide(v, spoofer, { policy: { dmarc: { reject: 'ignore' } } })).toBeNull();
  });

  it('honours p=quarantine as quarantine', async () => {
    const { verifier } = testVerifier(dns);
    const v = await verifier.verify({
      raw: plainMessage('<news@authquar.example>'),
      ...stranger('news@authquar.example'),
    });
    expect(v.dmarc).toEqual({ result: 'fail', domain: 'authquar.example', policy: 'quarantine' });
    expect(preDecide(v, stranger('news@authquar.example'))?.action).toBe('quarantine');
  });

  it('verifies a forwarded message by its ARC chain; a trusted sealer lifts the DMARC failure', async () => {
    const { verifier } = testVerifier(dns);
    const v = await verifier.verify({ raw: await forwardedByList(), ...LIST });
    expect(v.dkim[0]?.result).toBe('fail'); // the Subject was rewritten
    expect(v.dmarc.result).toBe('fail');
    expect(v.arc).toEqual({ result: 'pass', sealer: 'authlist.example', sealedDmarc: 'pass' });
    expect(v.header).toMatch(/arc=pass/);
    expect(preDecide(v, LIST)?.action).toBe('reject');
    expect(preDecide(v, LIST, { auth: { trustedArcSealers: ['authlist.example'] } })).toBeNull();
  });

  it('an ARC chain broken after sealing fails', async () => {
    const { verifier } = testVerifier(dns);
    const forwarded = (await forwardedByList()).toString('latin1').replace('the figures', 'the invoices');
    const v = await verifier.verify({ raw: Buffer.from(forwarded, 'latin1'), ...LIST });
    expect(v.arc.result).toBe('fail');
    expect(v.arc.sealedDmarc).toBeNull();
  });

  it('SERVFAIL is temperror, never an exception', async () => {
    const { verifier, metrics } = testVerifier(dns);
    const v = await verifier.verify({
      raw: plainMessage('<a@authbroken.example>'),
      ...stranger('a@authbroken.example'),
    });
    expect(v.spf.result).toBe('temperror');
    expect(v.dmarc.result).toBe('temperror');
    expect(preDecide(v, stranger('a@authbroken.example'))).toBeNull(); // the score decides
    const errors = await metrics.dnsErrors.get();
    expect(errors.values.find((x) => x.labels.reason === 'servfail')?.value).toBeGreaterThan(0);
  });

  it('a server that never answers costs at most the message budget', async () => {
    const { verifier, metrics } = testVerifier(dns, { budgetMs: 400, timeoutMs: 250 });
    const started = Date.now();
    const v = await verifier.verify({
      raw: plainMessage('<a@authslow.example>'),
      ...stranger('a@authslow.example'),
    });
    const took = Date.now() - started;
    expect(v.spf.result).toBe('temperror');
    expect(v.dmarc.result).toBe('temperror');
    expect(took).toBeLessThan(400 + 1000); // the budget, plus the verifier's hard cut
    const errors = await metrics.dnsErrors.get();
    const failures = errors.values.filter(
      (x) => x.labels.reason === 'timeout' || x.labels.reason === 'budget',
    );
    expect(failures.reduce((n, x) => n + x.value, 0)).toBeGreaterThan(0);
  });

  it('answers come from the cache for their TTL: a second message asks the server nothing', async () => {
    const { verifier, metrics } = testVerifier(dns);
    const input = async () => ({ raw: await signedMessage('Another one'), ...ORIGIN });
    await verifier.verify(await input());
    const asked = dns.queries.length;
    const v = await verifier.verify(await input());
    expect(v.dmarc.result).toBe('pass');
    expect(dns.queries.length).toBe(asked);
    const lookups = await metrics.dnsLookupDuration.get();
    const memory = lookups.values.find(
      (x) => x.labels.source === 'memory' && x.metricName?.endsWith('_count'),
    );
    expect(memory?.value).toBeGreaterThan(0);
  });
});
