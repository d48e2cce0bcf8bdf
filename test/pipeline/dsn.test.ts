/** The DSN's copy of the original header section is the bytes that came, 8-bit ones included. */
import { describe, expect, it } from 'vitest';
import { buildDsn } from '../../src/pipeline/dsn.js';

describe('buildDsn', () => {
  it('keeps 8-bit header bytes as they came (UTF-8 once, not twice)', () => {
    const raw = Buffer.from('From: Jörg <j@example.de>\r\nSubject: Grüße\r\n', 'utf8');
    const dsn = buildDsn({
      reportingMta: 'mx.example.net',
      sender: 'j@example.de',
      refused: [{ recipient: 'gone@example.net', code: 550, response: '550 5.1.1 No such user' }],
      originalHeaders: raw.toString('latin1'),
      logId: 'id-1',
    });
    expect(dsn.includes(raw.subarray(0, raw.length - 2))).toBe(true);
    expect(dsn.toString('utf8')).toContain('Subject: Grüße\r\n\r\n--dsn-');
    expect(dsn.toString('utf8')).not.toContain('Ã');
  });
});
