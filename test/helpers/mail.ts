/** Test mail. */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { Received, Sink } from './sink.js';

/** Ordinary mail with words of its own (a random tag), so a lesson about it is not blurred by other tests'. */
export function ordinaryMail(): Buffer {
  const tag = randomBytes(4).toString('hex');
  return Buffer.from(
    `From: Dana Whitfield <dana@example.com>\r\nTo: team@example.net\r\nSubject: Lunch on Thursday ${tag}\r\n` +
      `Message-ID: <${tag}@example.com>\r\nDate: Tue, 4 Mar 2025 10:00:00 +0000\r\n\r\n` +
      `Hi all, shall we meet for lunch on Thursday at noon? The usual place near the office, ${tag}.\r\n` +
      'Dana\r\n',
  );
}

/**
 * Asserts that the sink holds just one message, from alice@example.org to bob@example.net, passed as ham: the
 * X-Spam block and X-MailSentra-Id on top, `original` byte for byte below. Returns it, its text and log id.
 */
export function expectPassedIntact(sink: Sink, original: Buffer | string) {
  expect(sink.messages).toHaveLength(1);
  const got = sink.messages[0] as Received;
  expect(got.mailFrom).toBe('alice@example.org');
  expect(got.rcptTo).toEqual(['bob@example.net']);
  const text = got.raw.toString('latin1');
  expect(text).toMatch(
    /^X-Spam-Flag: NO\r\nX-Spam-Score: 0\.\d{3}\r\nX-Spam-Status: No, score=0\.\d{3} required=0\.500 model=\S+\r\nX-MailSentra-Id: [0-9a-f-]{36}\r\n/,
  );
  const bytes = Buffer.isBuffer(original) ? original : Buffer.from(original, 'latin1');
  expect(got.raw.subarray(got.raw.length - bytes.length).equals(bytes)).toBe(true);
  const id = /X-MailSentra-Id: (\S+)/.exec(text)?.[1] as string;
  return { got, text, id };
}
