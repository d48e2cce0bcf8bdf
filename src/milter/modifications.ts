/**
 * What the milter asks the MTA to change at end of message, from the pipeline's hand-on (pure). Forged
 * `X-Spam-*` / `X-MailSentra-*` headers, and Authentication-Results claiming our authserv-id, are deleted
 * (CHGHEADER with an empty value, last occurrence first so the indexes of the others hold), the Subject gets
 * the tag prefix, our headers are added, and quarantined recipients are removed. Each only when the MTA
 * granted the action.
 */
import { authservIdOf } from '../auth/ar-header.js';
import { OWN_HEADER, stampHeaderLines } from '../pipeline/headers.js';
import type { HandOn } from '../pipeline/transport.js';
import { Action, cstrings, encode, Reply } from './protocol.js';

export interface ReceivedHeader {
  name: string;
  /** As the MTA sent it: with its leading space when HDR_LEADSPC was negotiated. */
  value: string;
}

export interface ModificationContext {
  headers: ReceivedHeader[];
  /** Granted actions (SMFIF_*). */
  actions: number;
  /** Header values carry their own leading space (SMFIP_HDR_LEADSPC). */
  leadingSpace: boolean;
  /** RCPT arguments as the MTA sent them, by bare address (DELRCPT must name them the same way). */
  recipientArgs: Map<string, string>;
}

function indexed(index: number, name: string, value: string): Buffer {
  const i = Buffer.alloc(4);
  i.writeUInt32BE(index, 0);
  return Buffer.concat([i, cstrings(name, value)]);
}

export function modifications(h: HandOn, quarantined: string[], ctx: ModificationContext): Buffer[] {
  const out: Buffer[] = [];
  const lead = ctx.leadingSpace ? ' ' : '';
  const forgedAuth = (name: string, value: string) =>
    name.toLowerCase() === 'authentication-results' && authservIdOf(value) === h.authservId;
  if (ctx.actions & Action.CHGHDRS) {
    const seen = new Map<string, number>();
    const forged: { name: string; index: number }[] = [];
    for (const { name, value } of ctx.headers) {
      const key = name.toLowerCase();
      const index = (seen.get(key) ?? 0) + 1;
      seen.set(key, index);
      if (OWN_HEADER.test(`${name}:`) || forgedAuth(name, value)) forged.push({ name, index });
    }
    for (const f of forged.reverse()) out.push(encode(Reply.CHGHEADER, indexed(f.index, f.name, '')));
  }
  const prefix = h.stamp?.spam ? h.stamp.subjectPrefix : null;
  if (prefix) {
    const subject = ctx.headers.find((x) => x.name.toLowerCase() === 'subject');
    if (!subject) {
      if (ctx.actions & Action.ADDHDRS)
        out.push(encode(Reply.ADDHEADER, cstrings('Subject', `${lead}${prefix.trim()}`)));
    } else if (ctx.actions & Action.CHGHDRS) {
      const space = /^[ \t]*/.exec(subject.value)?.[0] ?? '';
      const rest = subject.value.slice(space.length);
      if (!rest.startsWith(prefix)) {
        out.push(encode(Reply.CHGHEADER, indexed(1, subject.name, `${space}${prefix}${rest}`)));
      }
    }
  }
  if (ctx.actions & Action.ADDHDRS) {
    const lines = `${h.authResults ?? ''}${h.stamp ? stampHeaderLines(h.stamp) : `X-MailSentra-Id: ${h.id}\r\n`}`;
    // Header fields, each with its folded continuation lines.
    for (const line of lines.split(/\r\n(?![ \t])/)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      out.push(
        encode(
          Reply.ADDHEADER,
          cstrings(
            line.slice(0, colon),
            `${lead}${line
              .slice(colon + 1)
              .trim()
              .replaceAll('\r\n', '\n')}`,
          ),
        ),
      );
    }
  }
  if (ctx.actions & Action.DELRCPT) {
    for (const r of quarantined)
      out.push(encode(Reply.DELRCPT, cstrings(ctx.recipientArgs.get(r) ?? `<${r}>`)));
  }
  return out;
}
