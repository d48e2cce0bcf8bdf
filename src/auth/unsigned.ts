/**
 * Sender authentication of a message whose header carries no DKIM or ARC field, with mailauth's own SPF and
 * DMARC and the rest of its authenticate() done here. With nothing signed, DKIM and ARC are "none" and
 * every other result comes from the envelope and the From field; authenticate() would still stream the
 * header block through its DKIM parser, a byte loop in JavaScript that costs more than everything else such
 * a message needs. test/auth/unsigned.test.ts holds the results to authenticate()'s own, message by message.
 */
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type { AuthenticateResult, DNSResolver } from 'mailauth';
import type * as DmarcModule from 'mailauth/lib/dmarc/index.js';
import type * as SpfModule from 'mailauth/lib/spf/index.js';
import type addressparserFn from 'nodemailer/lib/addressparser/index.js';

/** What toVerdict() reads of authenticate()'s result. */
export type AuthResults = Pick<AuthenticateResult, 'dkim' | 'spf' | 'arc' | 'dmarc'>;

export interface UnsignedModules {
  spf: typeof SpfModule.spf;
  dmarc: typeof DmarcModule.dmarc;
  /** The address parser mailauth itself loads (its own nodemailer, whatever version that is). */
  addressparser: typeof addressparserFn;
}

/**
 * mailauth's SPF and DMARC modules and its address parser, loaded on first use like mailauth itself. Their
 * CommonJS exports arrive through `default` in the bundle's chunks, and as named exports under Node.
 */
export async function loadUnsignedModules(): Promise<UnsignedModules> {
  const commonJs = <T>(m: T & { default?: T }): T => m.default ?? m;
  const [spf, dmarc] = await Promise.all([
    import('mailauth/lib/spf/index.js'),
    import('mailauth/lib/dmarc/index.js'),
  ]);
  const fromMailauth = createRequire(createRequire(import.meta.url).resolve('mailauth'));
  return {
    spf: commonJs(spf).spf,
    dmarc: commonJs(dmarc).dmarc,
    // createRequire gives `any`; this is nodemailer's addressparser module, as @types/nodemailer types it.
    addressparser: fromMailauth('nodemailer/lib/addressparser') as typeof addressparserFn,
  };
}

export interface UnsignedOptions {
  ip: string | undefined;
  helo: string | undefined;
  sender: string | undefined;
  mta: string;
  resolver: DNSResolver;
}

/**
 * The header block as mailauth cuts it: up to the first empty line, ended by LF LF or LF CR LF (mail with
 * bare LF line ends included), or the whole message when there is none.
 */
export function headerBlock(raw: Buffer): Buffer {
  // A message that begins with its empty line has no header fields.
  if (raw[0] === 0x0a) return raw.subarray(0, 1);
  if (raw[0] === 0x0d && raw[1] === 0x0a) return raw.subarray(0, 2);
  for (let i = raw.indexOf(0x0a, 1); i >= 0; i = raw.indexOf(0x0a, i + 1)) {
    if (raw[i - 1] === 0x0a || (raw[i - 1] === 0x0d && i >= 2 && raw[i - 2] === 0x0a)) {
      return raw.subarray(0, i + 1);
    }
  }
  return raw;
}

/** A field that makes the message signed for DKIM or ARC (ARC-Authentication-Results included). */
const SIGNED_FIELD = /^(?:dkim-signature|arc-[a-z-]+)[ \t]*:/im;

/** Whether a header block has no DKIM or ARC field (field names are case-insensitive). */
export function isUnsigned(head: Buffer): boolean {
  return !SIGNED_FIELD.test(head.toString('latin1'));
}

/**
 * The From field's addresses, read as mailauth reads them: every From field, unfolded, the text after its
 * first colon given to nodemailer's address parser, each parsed address kept (a group, having none of its
 * own, gives nothing).
 */
export function headerFromAddresses(head: Buffer, addressparser: UnsignedModules['addressparser']): string[] {
  const lines = head
    .toString('binary')
    .replace(/[\r\n]+$/, '')
    .split(/\r?\n/);
  const fields: string[] = [];
  for (const line of lines) {
    if (fields.length > 0 && /^\s/.test(line)) fields[fields.length - 1] += `\r\n${line}`;
    else fields.push(line);
  }
  const addresses: string[] = [];
  for (const binary of fields) {
    // Split as bytes, then read as UTF-8, as mailauth does (raw UTF-8 names and addresses, RFC 6532).
    const field = Buffer.from(binary, 'binary').toString();
    const colon = field.indexOf(':');
    if (colon < 0 || field.slice(0, colon).trim().toLowerCase() !== 'from') continue;
    collect(addressparser(field.slice(colon + 1).trim()), addresses);
  }
  return addresses;
}

function collect(parsed: ReturnType<typeof addressparserFn>, into: string[]): void {
  for (const a of parsed) if ('address' in a && a.address) into.push(a.address);
}

/** authenticate()'s results for an unsigned message (`head`: its header block). */
export async function authenticateUnsigned(
  head: Buffer,
  opts: UnsignedOptions,
  lib: UnsignedModules,
): Promise<AuthResults> {
  const headerFrom = headerFromAddresses(head, lib.addressparser);
  // authenticate()'s HELO: the client address when there is none, an address literal in brackets.
  let helo = opts.helo || opts.ip;
  if (helo && isIP(helo)) helo = `[${helo}]`;
  const spf = await lib.spf({
    ip: opts.ip as string, // mailauth checks nothing without one (its typing says required)
    helo,
    sender: opts.sender,
    mta: opts.mta,
    resolver: opts.resolver,
  });
  // No ARC field: mailauth reports "none" and adds nothing to Authentication-Results.
  const arc = { i: false as const, status: { result: 'none' as const } };
  const dmarc = await lib.dmarc({
    headerFrom,
    spfDomains: spf && spf.status.result === 'pass' && spf.domain ? [spf.domain] : [],
    dkimDomains: [],
    arcResult: arc,
    resolver: opts.resolver,
  });
  return {
    dkim: {
      headerFrom,
      envelopeFrom: false,
      results: [
        {
          signingDomain: '',
          status: { result: 'none', comment: 'message not signed' },
          info: 'dkim=none (message not signed)',
        },
      ],
    },
    spf,
    arc,
    dmarc,
  };
}
