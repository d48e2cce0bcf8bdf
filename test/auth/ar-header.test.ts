import { describe, expect, it } from 'vitest';
import {
  authResultsLine,
  authservIdOf,
  formatAuthResults,
  stripOurAuthResults,
} from '../../src/auth/ar-header.js';

const message = (headers: string) =>
  Buffer.from(
    `${headers}From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\nAuthentication-Results: mx.test; in body\r\n`,
  );

describe('Authentication-Results', () => {
  it('reads the authserv-id past comments, versions and quoting', () => {
    expect(authservIdOf(' mx.test; spf=pass')).toBe('mx.test');
    expect(authservIdOf('MX.Test 1; dkim=pass')).toBe('mx.test');
    expect(authservIdOf(' (forged (nested) comment) mx.test; none')).toBe('mx.test');
    expect(authservIdOf(' "mx.test"; none')).toBe('mx.test');
    expect(authservIdOf('\r\n\tmx.test;\r\n dkim=pass')).toBe('mx.test');
    expect(authservIdOf('   ')).toBeNull();
  });

  it('removes only the fields that claim our authserv-id, folded or not, and keeps the rest byte for byte', () => {
    const raw = message(
      'Received: from x by y\r\n' +
        'Authentication-Results: MX.TEST;\r\n\tdkim=pass header.d=bank.example;\r\n\tdmarc=pass\r\n' +
        'Authentication-Results: other.example; spf=pass smtp.mailfrom=example.org\r\n' +
        'authentication-results : (comment) mx.test 1; spf=pass\r\n' +
        'Authentication-Results-Extra: mx.test; not the same field\r\n',
    );
    const { raw: out, removed } = stripOurAuthResults(raw, 'mx.test');
    expect(removed).toBe(2);
    expect(out.toString()).toBe(
      message(
        'Received: from x by y\r\n' +
          'Authentication-Results: other.example; spf=pass smtp.mailfrom=example.org\r\n' +
          'Authentication-Results-Extra: mx.test; not the same field\r\n',
      ).toString(),
    );
  });

  it('returns the same buffer when there is nothing to remove', () => {
    const raw = message('Authentication-Results: other.example; none\r\n');
    expect(stripOurAuthResults(raw, 'mx.test').raw).toBe(raw);
    const none = message('');
    expect(stripOurAuthResults(none, 'mx.test')).toEqual({ raw: none, removed: 0 });
  });

  it('removes a forged first header too', () => {
    const raw = Buffer.from('Authentication-Results: mx.test; dkim=pass\r\n\r\nbody');
    expect(stripOurAuthResults(raw, 'mx.test').raw.toString()).toBe('\r\nbody');
  });

  it('formats one result per folded line', () => {
    const value = formatAuthResults('mx.test', ['spf=pass smtp.mailfrom=example.org', 'dkim=none']);
    expect(authResultsLine(value)).toBe(
      'Authentication-Results: mx.test;\r\n spf=pass smtp.mailfrom=example.org;\r\n dkim=none\r\n',
    );
    expect(formatAuthResults('mx.test', [])).toBe('mx.test; none');
  });
});
