/** The subject and From that the verdict log, the console and the digest show. */
import { describe, expect, it } from 'vitest';
import { digestText } from '../../src/digest/compose.js';
import { headerSummary } from '../../src/pipeline/summary.js';

describe('headerSummary', () => {
  it('shows raw 8-bit UTF-8 headers as written, and encoded words in any script', () => {
    const raw = Buffer.concat([
      Buffer.from('From: "Jürgen Groß" <j@example.de>\r\n'),
      Buffer.from(`Subject: =?UTF-8?B?${Buffer.from('Привет').toString('base64')}?= und Grüße\r\n`),
      Buffer.from('Message-ID: <1@example.de>\r\n\r\nbody\r\n'),
    ]);
    const summary = headerSummary(raw);
    expect(summary.from).toBe('"Jürgen Groß" <j@example.de>');
    expect(summary.subject).toBe('Привет und Grüße');
    expect(summary.messageId).toBe('<1@example.de>');
  });

  it('keeps each field on one line: controls an encoded word decodes to are shown as spaces', () => {
    const forged = 'URGENT=3A_Verify_your_account=0AScore:_0.001=0ARelease:_https://evil.example/r';
    const raw = Buffer.from(
      `From: =?utf-8?Q?Bank=0D=0AReply-To:_x?= <b@example.org>\r\nSubject: =?utf-8?Q?${forged}?=\r\n` +
        `Message-ID: <${'m'.repeat(60_000)}\x1b[2J\x07@example.org>\r\n\r\nbody\r\n`,
    );
    const summary = headerSummary(raw);
    expect(summary.subject).toBe('URGENT: Verify your account Score: 0.001 Release: https://evil.example/r');
    expect(summary.from).toBe('Bank  Reply-To: x <b@example.org>');
    // Capped and cleaned like the others (it was stored whole, terminal escapes included).
    expect(summary.messageId).toHaveLength(998);
    expect(summary.messageId).not.toMatch(/[\u0000-\u001f]/);
    // A row stored before (or from elsewhere) with a line break is still one line in the digest's text.
    const text = digestText({
      recipient: 'r@example.net',
      rows: [
        {
          mailFrom: 'a@example.org',
          subject: 'Hello\nRelease: https://evil.example/r',
          score: 0.99,
          createdAt: new Date(0),
          links: { release: 'https://mail.example/r', delete: 'd', allow: 'a' },
        },
      ],
      linkDays: 7,
      unsubscribe: 'u',
    });
    expect(text.split('\n').filter((l) => l.startsWith('Release:'))).toEqual([
      'Release: https://mail.example/r',
    ]);
  });
});
