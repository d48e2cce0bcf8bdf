/**
 * The sender-authentication world of the tests, served by the loopback DNS server: domains with SPF, DKIM
 * keys and DMARC records (keys generated per run), and real messages signed with them by mailauth's signer.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { dkimSign, sealMessage } from 'mailauth';
import { createDnsCache } from '../../src/auth/dns-cache.js';
import { createResolver } from '../../src/auth/resolver.js';
import { createVerifier, type Verifier } from '../../src/auth/verify.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import type { TestDns } from './dns-server.js';

export const ORIGIN_IP = '192.0.2.10'; // in example.org's SPF
export const LIST_IP = '198.51.100.20'; // the forwarder (lists.example.net)
export const STRANGER_IP = '203.0.113.66'; // in nobody's SPF

function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    record: `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`,
  };
}

export const keys = { origin: keyPair(), list: keyPair() };

/** Selectors new in every run: the keys are, and a service's DNS cache in the shared Redis outlives a run. */
const run = randomBytes(4).toString('hex');
export const selectors = { origin: `sel-${run}`, list: `arc-${run}` };

/** example.org: SPF, a DKIM key, DMARC p=reject. bank.example: p=reject and nothing sends for it.
 * lists.example.net: the forwarder's SPF and ARC key. broken.example: SERVFAIL. slow.example: no answer. */
export function populate(dns: TestDns): void {
  dns.add('example.org', { type: 'TXT', data: `v=spf1 ip4:${ORIGIN_IP} -all` });
  dns.add(`${selectors.origin}._domainkey.example.org`, { type: 'TXT', data: keys.origin.record });
  dns.add('_dmarc.example.org', { type: 'TXT', data: 'v=DMARC1; p=reject; rua=mailto:d@example.org' });
  dns.add('bank.example', { type: 'TXT', data: 'v=spf1 -all' });
  dns.add('_dmarc.bank.example', { type: 'TXT', data: 'v=DMARC1; p=reject' });
  dns.add('quarantined.example', { type: 'TXT', data: 'v=spf1 -all' });
  dns.add('_dmarc.quarantined.example', { type: 'TXT', data: 'v=DMARC1; p=quarantine' });
  dns.add('lists.example.net', { type: 'TXT', data: `v=spf1 ip4:${LIST_IP} -all` });
  dns.add(`${selectors.list}._domainkey.lists.example.net`, { type: 'TXT', data: keys.list.record });
  dns.servfail.add('broken.example');
  dns.servfail.add('_dmarc.broken.example');
  dns.silent.add('slow.example');
  dns.silent.add('_dmarc.slow.example');
}

export function plainMessage(from: string, subject = 'Quarterly figures', extraHeaders = ''): Buffer {
  return Buffer.from(
    `${extraHeaders}From: ${from}\r\nTo: bob@example.com\r\nSubject: ${subject}\r\n` +
      `Date: Sun, 06 Dec 2026 10:00:00 +0000\r\nMessage-ID: <${Math.random().toString(36).slice(2)}@example.org>\r\n` +
      'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n' +
      'Hello Bob,\r\n\r\nthe figures are attached to the shared folder as usual.\r\n\r\nAlice\r\n',
  );
}

/** A message from alice@example.org signed with example.org's key. */
export async function signedMessage(subject = 'Quarterly figures', extraHeaders = ''): Promise<Buffer> {
  const raw = plainMessage('Alice <alice@example.org>', subject, extraHeaders);
  const { signatures, errors } = await dkimSign(raw, {
    signingDomain: 'example.org',
    selector: selectors.origin,
    privateKey: keys.origin.privateKey,
    canonicalization: 'relaxed/relaxed',
    signatureData: [
      { signingDomain: 'example.org', selector: selectors.origin, privateKey: keys.origin.privateKey },
    ],
  });
  if (errors.length > 0 || !signatures) throw new Error(`signing failed: ${errors.map((e) => e.message)}`);
  return Buffer.concat([Buffer.from(signatures), raw]);
}

/**
 * The signed message as a mailing list forwards it: the list rewrites the Subject (which breaks example.org's
 * DKIM signature) and seals it with ARC, recording that DKIM and DMARC passed when it arrived.
 */
export async function forwardedByList(): Promise<Buffer> {
  const original = await signedMessage('Quarterly figures');
  const modified = Buffer.from(
    original.toString('latin1').replace('Subject: Quarterly figures', 'Subject: [team] Quarterly figures'),
    'latin1',
  );
  // mailauth's typings leave out the seal's authResults and cv, which sealMessage reads.
  const seal = await sealMessage(modified, {
    signingDomain: 'lists.example.net',
    selector: selectors.list,
    privateKey: keys.list.privateKey,
    authResults:
      'lists.example.net; dkim=pass header.d=example.org; spf=pass smtp.mailfrom=example.org; dmarc=pass header.from=example.org',
    cv: 'none',
  } as Parameters<typeof sealMessage>[1]);
  return Buffer.concat([seal, modified]);
}

export function testVerifier(
  dns: TestDns,
  options: { budgetMs?: number; timeoutMs?: number; metrics?: Metrics } = {},
): { verifier: Verifier; metrics: Metrics } {
  const metrics = options.metrics ?? createMetrics({ defaultMetrics: false });
  const cache = createDnsCache({ memoryEntries: 1000, redis: null, redisTimeoutMs: 50 });
  const resolver = createResolver(
    {
      servers: [dns.server],
      timeoutMs: options.timeoutMs ?? 300,
      budgetMs: options.budgetMs ?? 1000,
      maxTtlSeconds: 3600,
      negativeTtlSeconds: 60,
    },
    { cache, metrics },
  );
  const verifier = createVerifier(
    { authservId: 'mx.mailsentra.test', minKeyBits: 1024, budgetMs: options.budgetMs ?? 1000 },
    { resolver, metrics },
  );
  return { verifier, metrics };
}
