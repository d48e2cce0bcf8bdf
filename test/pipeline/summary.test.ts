/** The subject and From that the verdict log, the console and the digest show. */
import { describe, expect, it } from 'vitest';
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
});
