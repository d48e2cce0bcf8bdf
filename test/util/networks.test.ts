import { describe, expect, it } from 'vitest';
import { ipv4Number, networkMatcher } from '../../src/util/networks.js';

describe('networkMatcher', () => {
  it('matches IPv4 subnets, bare addresses and /0', () => {
    const m = networkMatcher(['10.0.0.0/8', '192.0.2.7', '172.16.0.0/12']);
    expect(m('10.255.1.2')).toBe(true);
    expect(m('11.0.0.1')).toBe(false);
    expect(m('192.0.2.7')).toBe(true);
    expect(m('192.0.2.8')).toBe(false);
    expect(m('172.31.255.255')).toBe(true);
    expect(m('172.32.0.0')).toBe(false);
    expect(networkMatcher(['0.0.0.0/0'])('203.0.113.9')).toBe(true);
    // A base with host bits set still names its network.
    expect(networkMatcher(['10.1.2.3/8'])('10.9.9.9')).toBe(true);
  });

  it('matches an IPv4-mapped IPv6 client against IPv4 ranges', () => {
    expect(networkMatcher(['127.0.0.0/8'])('::ffff:127.0.0.1')).toBe(true);
    expect(networkMatcher(['127.0.0.0/8'])('::ffff:128.0.0.1')).toBe(false);
  });

  it('matches IPv6 subnets and addresses, never across families', () => {
    const m = networkMatcher(['2001:db8::/32', '::1']);
    expect(m('2001:db8:ffff::1')).toBe(true);
    expect(m('2001:db9::1')).toBe(false);
    expect(m('::1')).toBe(true);
    expect(m('0:0:0:0:0:0:0:1')).toBe(true);
    expect(m('127.0.0.1')).toBe(false);
    expect(networkMatcher(['0.0.0.0/0'])('2001:db8::1')).toBe(false);
  });

  it('answers false for no address and for strings that are not addresses', () => {
    const m = networkMatcher(['0.0.0.0/0', '::/0']);
    for (const bad of [
      null,
      '',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '1..2.3',
      'a.b.c.d',
      '1.2.3.4 ',
      'host',
      ':::',
    ]) {
      expect(m(bad), String(bad)).toBe(false);
    }
  });

  it('refuses bad CIDRs when built (config validation relies on it)', () => {
    for (const bad of [
      '10.0.0.0/33',
      '10.0.0.0/x',
      '10.0.0.0/',
      'nope',
      '1.2.3/8',
      '::1/129',
      '10.0.0.0/-1',
    ]) {
      expect(() => networkMatcher([bad]), bad).toThrow();
    }
  });

  it('reads dotted quads exactly', () => {
    expect(ipv4Number('0.0.0.0')).toBe(0);
    expect(ipv4Number('255.255.255.255')).toBe(0xffffffff);
    expect(ipv4Number('192.0.2.1')).toBe(0xc0000201);
    expect(ipv4Number('1.2.3.')).toBeNull();
    expect(ipv4Number('.1.2.3')).toBeNull();
    expect(ipv4Number('010.1.2.3')).toBeNull();
    expect(ipv4Number('10.0.2.3')).toBe(0x0a000203);
  });
});
