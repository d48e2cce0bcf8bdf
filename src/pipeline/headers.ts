/**
 * X-Spam-* stamping in SpamAssassin's conventions. Headers are prepended and the original bytes are left
 * untouched (so DKIM signatures still verify), except the Subject when a tag prefix is configured and incoming
 * header fields that claim to be ours (`X-Spam-*`, `X-MailSentra-*`), which are removed first: a sender's forged
 * `X-Spam-Flag: NO` must not reach the recipient's filters beside, or instead of, our verdict.
 */

import { headerSectionLength } from '../util/header-section.js';

/** Header fields only this service may write: any arriving with the message are forged. */
export const OWN_HEADER = /^(x-spam-|x-mailsentra-)[!-9;-~]*[ \t]*:/i;

/**
 * Removes every header field (with its folded continuation lines) whose name matches `name`. Returns the
 * same buffer when nothing matched, so clean mail is not copied.
 */
export function removeHeaderFields(raw: Buffer, name: RegExp = OWN_HEADER): Buffer {
  const headLength = headerSectionLength(raw);
  const head = raw.subarray(0, headLength).toString('latin1');
  if (!/(^|\n)x-(spam|mailsentra)-/i.test(head) && name === OWN_HEADER) return raw;
  const kept: string[] = [];
  let dropping = false;
  let changed = false;
  for (const line of head.split(/(?<=\r\n)/)) {
    const continuation = line.startsWith(' ') || line.startsWith('\t');
    if (!continuation) dropping = name.test(line);
    if (dropping) changed = true;
    else kept.push(line);
  }
  if (!changed) return raw;
  return Buffer.concat([Buffer.from(kept.join(''), 'latin1'), raw.subarray(headLength)]);
}

export interface Stamp {
  spam: boolean;
  score: number;
  threshold: number;
  model: string;
  logId: string;
  /** Prefix the Subject (tagged mail), e.g. "[SPAM] "; null or empty = leave the Subject alone. */
  subjectPrefix: string | null;
}

export function stampHeaderLines(s: Stamp): string {
  const score = s.score.toFixed(3);
  return [
    `X-Spam-Flag: ${s.spam ? 'YES' : 'NO'}`,
    `X-Spam-Score: ${score}`,
    `X-Spam-Status: ${s.spam ? 'Yes' : 'No'}, score=${score} required=${s.threshold.toFixed(3)} model=${s.model}`,
    `X-MailSentra-Id: ${s.logId}`,
    '',
  ].join('\r\n');
}

/** Inserts `prefix` at the start of the first Subject header's value (unless it is already there). */
export function prefixSubject(raw: Buffer, prefix: string): Buffer {
  const head = raw.subarray(0, headerSectionLength(raw)).toString('latin1');
  const m = /(^|\r\n)(subject:[ \t]*)/i.exec(head);
  if (!m) {
    // No Subject at all: add one carrying just the prefix.
    return Buffer.concat([Buffer.from(`Subject: ${prefix.trim()}\r\n`, 'latin1'), raw]);
  }
  const at = m.index + (m[1] as string).length + (m[2] as string).length;
  if (head.slice(at, at + prefix.length) === prefix) return raw;
  return Buffer.concat([raw.subarray(0, at), Buffer.from(prefix, 'utf8'), raw.subarray(at)]);
}

export function stampMessage(raw: Buffer, s: Stamp): Buffer {
  const clean = removeHeaderFields(raw);
  const body = s.spam && s.subjectPrefix ? prefixSubject(clean, s.subjectPrefix) : clean;
  return Buffer.concat([Buffer.from(stampHeaderLines(s), 'latin1'), body]);
}

/** `failOpen` mail: passed without a verdict, so no X-Spam-Flag; only our id, for tracing. */
export function stampUnscanned(raw: Buffer, logId: string): Buffer {
  return Buffer.concat([Buffer.from(`X-MailSentra-Id: ${logId}\r\n`, 'latin1'), removeHeaderFields(raw)]);
}

/** Bare LF or bare CR anywhere in the message (SMTP smuggling, CVE-2023-51764 family). */
export function hasBareLineEnding(raw: Buffer): boolean {
  for (let i = raw.indexOf(0x0a); i !== -1; i = raw.indexOf(0x0a, i + 1)) {
    if (i === 0 || raw[i - 1] !== 0x0d) return true;
  }
  for (let i = raw.indexOf(0x0d); i !== -1; i = raw.indexOf(0x0d, i + 1)) {
    if (raw[i + 1] !== 0x0a) return true;
  }
  return false;
}

/** Every line ending becomes CRLF (the `normalize` choice for bare line endings). */
export function normaliseLineEndings(raw: Buffer): Buffer {
  return Buffer.from(raw.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');
}
