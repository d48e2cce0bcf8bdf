/** The milter's header changes for sender authentication: forged Authentication-Results out, ours in. */
import { describe, expect, it } from 'vitest';
import { modifications } from '../../src/milter/modifications.js';
import { Action, Reply } from '../../src/milter/protocol.js';
import type { HandOn } from '../../src/pipeline/transport.js';

const ours =
  'Authentication-Results: mx.example.net;\r\n spf=pass smtp.mailfrom=example.org;\r\n dkim=none\r\n';

function handOn(authResults: string | null): HandOn {
  return {
    id: 'log-1',
    delivery: { mailFrom: 'a@example.org', rcptTo: ['r@example.net'], clientIp: null } as HandOn['delivery'],
    raw: Buffer.alloc(0),
    head: '',
    stamp: null,
    authResults,
    authservId: 'mx.example.net',
    recipients: ['r@example.net'],
    quarantined: [],
  };
}

/** Each packet as its command and NUL-separated strings. */
const decode = (packets: Buffer[]) =>
  packets.map((p) => ({ cmd: p.toString('latin1', 4, 5), data: p.subarray(5) }));

describe('milter authentication headers', () => {
  const ctx = {
    headers: [
      { name: 'Authentication-Results', value: ' other.example; spf=pass' },
      { name: 'Authentication-Results', value: ' MX.example.net; dkim=pass (forged)' },
      { name: 'Subject', value: ' hi' },
    ],
    actions: Action.ADDHDRS | Action.CHGHDRS,
    leadingSpace: true,
    recipientArgs: new Map<string, string>(),
  };

  it("deletes the one claiming our authserv-id, keeps the other server's, and adds ours folded", () => {
    const out = decode(modifications(handOn(ours), [], ctx));
    const changes = out.filter((p) => p.cmd === Reply.CHGHEADER);
    expect(changes).toHaveLength(1);
    // Second Authentication-Results field, emptied (deleted).
    expect(changes[0]?.data.readUInt32BE(0)).toBe(2);
    expect(changes[0]?.data.subarray(4).toString('latin1')).toBe('Authentication-Results\0\0');
    const added = out.filter((p) => p.cmd === Reply.ADDHEADER).map((p) => p.data.toString('latin1'));
    expect(added[0]).toBe(
      'Authentication-Results\0 mx.example.net;\n spf=pass smtp.mailfrom=example.org;\n dkim=none\0',
    );
    expect(added.some((a) => a.startsWith('X-MailSentra-Id\0'))).toBe(true);
  });

  it('with authentication off adds none, and still deletes the one claiming our authserv-id', () => {
    const out = decode(modifications(handOn(null), [], ctx));
    const changes = out.filter((p) => p.cmd === Reply.CHGHEADER);
    expect(changes.map((c) => c.data.readUInt32BE(0))).toEqual([2]);
    expect(
      out.some(
        (p) => p.cmd === Reply.ADDHEADER && p.data.toString('latin1').startsWith('Authentication-Results'),
      ),
    ).toBe(false);
  });
});
