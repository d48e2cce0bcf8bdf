/**
 * The unsigned path (src/auth/unsigned.ts) against mailauth's authenticate() itself: for every message and
 * envelope below, both give the same verdict, with the same resolver and the same DNS answers.
 */
import type { DNSResolver } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authenticateUnsigned,
  headerBlock,
  isUnsigned,
  loadUnsignedModules,
  type UnsignedModules,
} from '../../src/auth/unsigned.js';
import { toVerdict } from '../../src/auth/verify.js';
import { loadSpamAssassin } from '../../src/classifier/corpus.js';
import {
  AUTHSERV_ID,
  ORIGIN_IP,
  plainMessage,
  populate,
  STRANGER_IP,
  testVerifier,
} from '../helpers/auth-world.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';

type MailAuth = typeof import('mailauth');
let dns: TestDns;
let mailauth: MailAuth;
let lib: UnsignedModules;
beforeAll(async () => {
  dns = await startTestDns();
  populate(dns);
  const m: MailAuth & { default?: MailAuth } = await import('mailauth');
  mailauth = m.default ?? m;
  lib = await loadUnsignedModules();
});
afterAll(async () => {
  await dns.close();
});

interface Envelope {
  ip: string | null;
  helo: string | null;
  sender: string;
}
const ENVELOPES: Record<string, Envelope> = {
  'the origin (SPF pass)': { ip: ORIGIN_IP, helo: 'mail.authorg.example', sender: 'alice@authorg.example' },
  'a stranger (SPF fail)': { ip: STRANGER_IP, helo: 'x.example', sender: 'alice@authorg.example' },
  'the null sender': { ip: ORIGIN_IP, helo: 'mail.authorg.example', sender: '' },
  'no client address': { ip: null, helo: null, sender: 'alice@authorg.example' },
  'an address for HELO': { ip: STRANGER_IP, helo: STRANGER_IP, sender: 'x@authbank.example' },
  'a domain whose DNS fails': { ip: STRANGER_IP, helo: 'x.example', sender: 'x@authbroken.example' },
};

const FROMS = [
  'Alice <alice@authorg.example>',
  'alice@authbank.example',
  '"Q" <q@authquar.example>',
  'Alice <alice@authorg.example>, Bob <bob@authbank.example>',
  'Undisclosed recipients:;',
  'Team: alice@authorg.example, bob@authbank.example;',
  'Alice\r\n <alice@authorg.example>',
  '=?utf-8?q?J=C3=BCrgen?= <j@authquar.example>',
  'someone@authbroken.example',
  '<>',
];
const HEAD = 'To: bob@example.com\r\nSubject: Figures\r\nDate: Sun, 06 Dec 2026 10:00:00 +0000\r\n';
const EXTRA: Record<string, Buffer> = {
  'two From fields': Buffer.from(
    `From: alice@authorg.example\r\nFrom: bob@authbank.example\r\n${HEAD}\r\nbody\r\n`,
  ),
  'no From field': Buffer.from(`${HEAD}\r\nbody\r\n`),
  'a space before the colon': Buffer.from(`From : alice@authorg.example\r\n${HEAD}\r\nbody\r\n`),
  'a lower-case field name': Buffer.from(`from: alice@authbank.example\r\n${HEAD}\r\nbody\r\n`),
  'no body at all': Buffer.from(`From: alice@authorg.example\r\n${HEAD}`),
  'raw UTF-8 in the name and the address': Buffer.from(
    `From: Jürgen Müller <jürgen@bücher.example>\r\n${HEAD}\r\nbody\r\n`,
  ),
  'raw UTF-8 in the name only': Buffer.from(`From: Ünal Çelik <unal@authorg.example>\r\n${HEAD}\r\nbody\r\n`),
  'bare LF line ends': Buffer.from(
    `From: alice@authbank.example\n${HEAD.replaceAll('\r\n', '\n')}\nFrom: x@y.example\n`,
  ),
  'a field named like a signature': Buffer.from(
    `X-DKIM-Signature: v=1\r\nFrom: alice@authorg.example\r\n${HEAD}\r\nDKIM-Signature: in the body\r\n`,
  ),
};

async function both(raw: Buffer, env: Envelope) {
  const { resolver } = testVerifier(dns);
  const head = headerBlock(raw);
  const opts = {
    ip: env.ip ?? undefined,
    helo: env.helo ?? undefined,
    sender: env.sender || undefined,
    mta: AUTHSERV_ID,
  };
  const spfChecked = env.ip !== null;
  const library = await mailauth.authenticate(raw, {
    ...opts,
    resolver: resolver.forMessage() as DNSResolver,
    minBitLength: 1024,
    disableBimi: true,
  });
  const ours = await authenticateUnsigned(
    head,
    { ...opts, resolver: resolver.forMessage() as DNSResolver },
    lib,
  );
  return {
    library: toVerdict(AUTHSERV_ID, library, 0, spfChecked),
    ours: toVerdict(AUTHSERV_ID, ours, 0, spfChecked),
  };
}

describe('authentication of unsigned mail without mailauth’s DKIM parser', () => {
  it('gives authenticate()’s verdict for every From spelling and envelope', async () => {
    for (const [name, env] of Object.entries(ENVELOPES)) {
      for (const from of FROMS) {
        const { library, ours } = await both(plainMessage(from), env);
        expect(ours, `${name}, From: ${from}`).toEqual(library);
      }
      for (const [what, raw] of Object.entries(EXTRA)) {
        const { library, ours } = await both(raw, env);
        expect(ours, `${name}, ${what}`).toEqual(library);
      }
    }
  });

  it('gives authenticate()’s verdict on real mail of every kind', async () => {
    const corpus = loadSpamAssassin('test').filter((m) => isUnsigned(headerBlock(m.raw)));
    const sample = corpus.filter((_, i) => i % 8 === 0);
    expect(sample.length).toBeGreaterThan(150);
    for (const m of sample) {
      const env =
        m.label === 'spam' ? ENVELOPES['a stranger (SPF fail)'] : ENVELOPES['the origin (SPF pass)'];
      const { library, ours } = await both(m.raw, env as Envelope);
      expect(ours, m.path).toEqual(library);
    }
  });
});
