/** Test mail. */
import { randomBytes } from 'node:crypto';

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
