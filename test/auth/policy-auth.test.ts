import { describe, expect, it } from 'vitest';
import type { AuthVerdict } from '../../src/auth/types.js';
import { loadConfig } from '../../src/config/load.js';
import { createPolicy, listEntry, type PolicyInput } from '../../src/pipeline/policy.js';
import { tempConfig } from '../helpers/cli.js';

function verdict(over: Partial<AuthVerdict> = {}): AuthVerdict {
  return {
    spf: { result: 'none', domain: null, checked: true },
    dkim: [],
    dmarc: { result: 'none', domain: null, policy: null },
    arc: { result: 'none', sealer: null, sealedDmarc: null },
    fromDomain: null,
    header: 'mx.test; none',
    ms: 1,
    error: null,
    ...over,
  };
}

const policyOf = (policy: Record<string, unknown>) => {
  const config = loadConfig({ file: null, env: {}, overrides: { policy } });
  return createPolicy(config.policy, config.auth);
};
const input = (mailFrom: string, auth: AuthVerdict | null): PolicyInput => ({
  mailFrom,
  rcptTo: ['bob@example.com'],
  clientIp: '203.0.113.66',
  auth,
});

describe('allow entries and sender authentication', () => {
  it('@domain entries are aligned only by default; addresses are not; objects say so themselves', () => {
    expect(listEntry('@partner.example')).toEqual({ value: '@partner.example', alignedOnly: true });
    expect(listEntry('ceo@partner.example')).toEqual({ value: 'ceo@partner.example', alignedOnly: false });
    expect(listEntry({ sender: '@legacy.example', alignedOnly: false })).toEqual({
      value: '@legacy.example',
      alignedOnly: false,
    });
    expect(listEntry({ sender: 'ceo@partner.example', alignedOnly: true }).alignedOnly).toBe(true);
  });

  it('a forged allow-listed domain is scored, and the reason says why the entry did not apply', () => {
    const policy = policyOf({ allowSenders: ['@partner.example'] });
    const forged = input(
      'ceo@partner.example',
      verdict({ spf: { result: 'fail', domain: 'partner.example', checked: true } }),
    );
    expect(policy.preDecide(forged)).toBeNull();
    const decision = policy.decide(0.2, forged);
    expect(decision.scored).toBe(true);
    expect(decision.reason).toMatch(
      /allow entry @partner\.example ignored: sender not authenticated \(spf=fail/,
    );
    // Without verification (auth disabled) an aligned-only entry cannot apply either.
    expect(policy.preDecide(input('ceo@partner.example', null))).toBeNull();
  });

  it('SPF or DKIM of the domain (or a subdomain) makes the entry apply', () => {
    const policy = policyOf({ allowSenders: ['@partner.example'] });
    const bySpf = policy.preDecide(
      input(
        'ceo@partner.example',
        verdict({ spf: { result: 'pass', domain: 'partner.example', checked: true } }),
      ),
    );
    expect(bySpf).toMatchObject({ action: 'pass', scored: false });
    expect(bySpf?.reason).toMatch(/\(spf aligned\)/);
    const byDkim = policy.preDecide(
      input(
        'ceo@mail.partner.example',
        verdict({ dkim: [{ result: 'pass', domain: 'partner.example', selector: 's', aligned: true }] }),
      ),
    );
    expect(byDkim?.reason).toMatch(/\(dkim aligned\)/);
    // A passing signature of some other domain proves nothing about this one.
    const other = policy.preDecide(
      input(
        'ceo@partner.example',
        verdict({ dkim: [{ result: 'pass', domain: 'attacker.example', selector: 's', aligned: false }] }),
      ),
    );
    expect(other).toBeNull();
    // Nor does a failing one of the right domain.
    const failing = policy.preDecide(
      input(
        'ceo@partner.example',
        verdict({ dkim: [{ result: 'fail', domain: 'partner.example', selector: 's', aligned: true }] }),
      ),
    );
    expect(failing).toBeNull();
  });

  it('an entry with alignedOnly: false applies without authentication', () => {
    const policy = policyOf({ allowSenders: [{ sender: '@legacy.example', alignedOnly: false }] });
    expect(policy.preDecide(input('x@legacy.example', null))?.action).toBe('pass');
  });

  it('DMARC failure of a p=reject domain wins over an address allow entry', () => {
    const policy = policyOf({ allowSenders: ['ceo@bank.example'] });
    const spoofed = verdict({ dmarc: { result: 'fail', domain: 'bank.example', policy: 'reject' } });
    expect(policy.preDecide(input('ceo@bank.example', spoofed))?.action).toBe('reject');
  });

  it('DMARC temperror and p=none never decide', () => {
    const policy = policyOf({});
    expect(
      policy.preDecide(
        input('a@x.example', verdict({ dmarc: { result: 'temperror', domain: 'x.example', policy: null } })),
      ),
    ).toBeNull();
    expect(
      policy.preDecide(
        input('a@x.example', verdict({ dmarc: { result: 'fail', domain: 'x.example', policy: 'none' } })),
      ),
    ).toBeNull();
  });

  it('rejects bad entries at start-up with the key named', () => {
    const bad = (yaml: string) => () => loadConfig({ file: tempConfig(yaml).file, env: {} });
    expect(bad('policy:\n  allowSenders:\n    - { sender: "@x.example", aligned: true }\n')).toThrow(
      /allowSenders/,
    );
    expect(bad('policy:\n  dmarc:\n    reject: bounce\n')).toThrow(/dmarc/);
    expect(() =>
      loadConfig({
        file: tempConfig('policy:\n  allowSenders:\n    - { sender: "@x.example", alignedOnly: false }\n')
          .file,
        env: {},
      }),
    ).not.toThrow();
  });
});

describe('per-domain thresholds', () => {
  it('find the recipient domain whatever its case or a final dot', () => {
    const policy = policyOf({
      thresholds: { tag: 0.5, quarantine: 0.95 },
      domains: { 'lax.example': { quarantine: null } },
    });
    for (const rcpt of ['kim@lax.example', 'Kim@LAX.Example', 'kim@lax.example.'])
      expect(policy.decide(0.97, { ...input('a@example.org', null), rcptTo: [rcpt] }).action, rcpt).toBe(
        'tag',
      );
    expect(
      policy.decide(0.97, { ...input('a@example.org', null), rcptTo: ['kim@other.example'] }).action,
    ).toBe('quarantine');
  });
  it('a final dot on the sender domain names the same domain: it does not slip past a block', () => {
    const policy = policyOf({ blockSenders: ['@spam.example', 'boss@bad.example'] });
    for (const from of ['x@spam.example.', 'X@Mail.Spam.Example.', 'boss@bad.example.'])
      expect(policy.preDecide(input(from, null))?.action, from).toBe('quarantine');
    expect(policy.preDecide(input('x@example.org.', null))).toBeNull();
  });
});
