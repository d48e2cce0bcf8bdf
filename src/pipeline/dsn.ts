/**
 * A delivery status notification (RFC 3464) for recipients the next hop refused permanently after we had
 * already accepted the message for others: the sender learns which recipients failed and why, so nobody is
 * dropped silently. Pure: builds the bytes; the relay sends them with the null sender.
 */
import { randomUUID } from 'node:crypto';
import type { RecipientResult } from '../smtp/types.js';

export function buildDsn(opts: {
  reportingMta: string;
  sender: string;
  refused: RecipientResult[];
  /** The message's header section, read as latin1 (one char per byte). */
  originalHeaders: string;
  logId: string;
  now?: Date;
}): Buffer {
  const boundary = `dsn-${randomUUID()}`;
  const now = (opts.now ?? new Date()).toUTCString().replace('GMT', '+0000');
  const lines = opts.refused.map((r) => `  <${r.recipient}>: ${r.response.replace(/[\r\n]+/g, ' ')}`);
  const perRecipient = opts.refused
    .map((r) => {
      const status = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(r.response)?.[1] ?? '5.0.0';
      return [
        `Final-Recipient: rfc822; ${r.recipient}`,
        'Action: failed',
        `Status: ${status}`,
        `Diagnostic-Code: smtp; ${r.code} ${r.response.replace(/[\r\n]+/g, ' ')}`,
      ].join('\r\n');
    })
    .join('\r\n\r\n');
  const text = [
    `From: Mail Delivery System <MAILER-DAEMON@${opts.reportingMta}>`,
    `To: <${opts.sender}>`,
    'Subject: Undelivered Mail Returned to Sender',
    `Date: ${now}`,
    `Message-ID: <${randomUUID()}@${opts.reportingMta}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Your message (MailSentra ref ${opts.logId}) could not be delivered to these recipients:`,
    '',
    ...lines,
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    `Reporting-MTA: dns; ${opts.reportingMta}`,
    `Arrival-Date: ${now}`,
    '',
    perRecipient,
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    '',
    '',
  ];
  // The original header bytes as they came (`originalHeaders` holds them one char per byte), not re-encoded:
  // as UTF-8 every 8-bit byte would come back as two.
  return Buffer.concat([
    Buffer.from(text.join('\r\n'), 'utf8'),
    Buffer.from(opts.originalHeaders.trimEnd(), 'latin1'),
    Buffer.from(`\r\n\r\n--${boundary}--\r\n`, 'utf8'),
  ]);
}
