/**
 * The sender-authentication world of the tests, served by the loopback DNS server: domains with SPF, DKIM
 * keys and DMARC records (keys generated per run), and real messages signed with them by mailauth's signer.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { dkimSign, sealMessage } from 'mailauth';
import { createDnsCache } from '../../src/auth/dns-cache.js';
import { createResolver, type Resolver } from '../../src/auth/resolver.js';
import { createVerifier, type Verifier } from '../../src/auth/verify.js';
import type { DeepPartial } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import type { MessageSummary } from '../../src/store/types.js';
import { startTestDns, type TestDns } from './dns-server.js';
import { perFile } from './per-file.js';
import { startTestService, type TestService } from './service.js';
import { rawSession } from './smtp-client.js';

export const ORIGIN_IP = '192.0.2.10'; // in authorg.example's SPF
export const LIST_IP = '198.51.100.20'; // the forwarder (authlist.example)
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

/** Names no other test sends from: a service caches answers in the shared Redis, and the other tests' services
 * would read this world's p=reject for a domain they use.
 * authorg.example: SPF, a DKIM key, DMARC p=reject. authbank.example: p=reject and nothing sends for it.
 * authlist.example: the forwarder's SPF and ARC key. authbroken.example: SERVFAIL. authslow.example: no answer. */
export function populate(dns: TestDns): void {
  dns.add('authorg.example', { type: 'TXT', data: `v=spf1 ip4:${ORIGIN_IP} -all` });
  dns.add(`${selectors.origin}._domainkey.authorg.example`, { type: 'TXT', data: keys.origin.record });
  dns.add('_dmarc.authorg.example', {
    type: 'TXT',
    data: 'v=DMARC1; p=reject; rua=mailto:d@authorg.example',
  });
  dns.add('authbank.example', { type: 'TXT', data: 'v=spf1 -all' });
  dns.add('_dmarc.authbank.example', { type: 'TXT', data: 'v=DMARC1; p=reject' });
  dns.add('authquar.example', { type: 'TXT', data: 'v=spf1 -all' });
  dns.add('_dmarc.authquar.example', { type: 'TXT', data: 'v=DMARC1; p=quarantine' });
  dns.add('authlist.example', { type: 'TXT', data: `v=spf1 ip4:${LIST_IP} -all` });
  dns.add(`${selectors.list}._domainkey.authlist.example`, { type: 'TXT', data: keys.list.record });
  dns.servfail.add('authbroken.example');
  dns.servfail.add('_dmarc.authbroken.example');
  dns.silent.add('authslow.example');
  dns.silent.add('_dmarc.authslow.example');
}

export function plainMessage(from: string, subject = 'Quarterly figures', extraHeaders = ''): Buffer {
  return Buffer.from(
    `${extraHeaders}From: ${from}\r\nTo: bob@example.com\r\nSubject: ${subject}\r\n` +
      `Date: Sun, 06 Dec 2026 10:00:00 +0000\r\nMessage-ID: <${Math.random().toString(36).slice(2)}@authorg.example>\r\n` +
      'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n' +
      'Hello Bob,\r\n\r\nthe figures are attached to the shared folder as usual.\r\n\r\nAlice\r\n',
  );
}

/** A message from alice@authorg.example signed with authorg.example's key. */
export async function signedMessage(subject = 'Quarterly figures', extraHeaders = ''): Promise<Buffer> {
  const raw = plainMessage('Alice <alice@authorg.example>', subject, extraHeaders);
  const { signatures, errors } = await dkimSign(raw, {
    signingDomain: 'authorg.example',
    selector: selectors.origin,
    privateKey: keys.origin.privateKey,
    canonicalization: 'relaxed/relaxed',
    // Without it mailauth reads the clock twice, for the signed header and for the one it writes: when a
    // second turns between the two, t= differs and the signature is bad (about one message in 2 000; a
    // second verifier, dkimpy, rejects those too).
    signTime: new Date(),
    signatureData: [
      { signingDomain: 'authorg.example', selector: selectors.origin, privateKey: keys.origin.privateKey },
    ],
  });
  if (errors.length > 0 || !signatures) throw new Error(`signing failed: ${errors.map((e) => e.message)}`);
  return Buffer.concat([Buffer.from(signatures), raw]);
}

/**
 * The signed message as a mailing list forwards it: the list rewrites the Subject (which breaks authorg.example's
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
    signingDomain: 'authlist.example',
    selector: selectors.list,
    privateKey: keys.list.privateKey,
    authResults:
      'authlist.example; dkim=pass header.d=authorg.example; spf=pass smtp.mailfrom=authorg.example; dmarc=pass header.from=authorg.example',
    cv: 'none',
  } as Parameters<typeof sealMessage>[1]);
  return Buffer.concat([seal, modified]);
}

export function testVerifier(
  dns: TestDns,
  options: { budgetMs?: number; timeoutMs?: number; metrics?: Metrics } = {},
): { verifier: Verifier; metrics: Metrics; resolver: Resolver } {
  const metrics = options.metrics ?? createMetrics({ defaultMetrics: false });
  const cache = createDnsCache({ memoryEntries: 1000, redis: null, redisTimeoutMs: 50 });
  const resolver = createResolver(
    {
      servers: [dns.server],
      // Generous: the loopback server answers at once, but a loaded CI machine may not run us at once.
      timeoutMs: options.timeoutMs ?? 3000,
      budgetMs: options.budgetMs ?? 8000,
      maxTtlSeconds: 3600,
      negativeTtlSeconds: 60,
    },
    { cache, metrics },
  );
  const verifier = createVerifier(
    { authservId: 'mx.mailsentra.test', minKeyBits: 1024, budgetMs: options.budgetMs ?? 8000 },
    { resolver, metrics },
  );
  return { verifier, metrics, resolver };
}

/** Our authserv-id in the services these tests start. */
export const AUTHSERV_ID = 'mx.mailsentra.test';

export interface AuthWorldService {
  dns: TestDns;
  svc: TestService;
  /** One message through SMTP as Postfix hands it over: XFORWARD names the real client. Returns the DATA reply. */
  deliver(raw: Buffer, client: { ip: string; helo: string }, mailFrom: string): Promise<string>;
  /** The verdict log's newest row, once the buffered writer has flushed. */
  lastLogRow(): Promise<MessageSummary | undefined>;
}

/**
 * A whole service whose resolver is a loopback DNS server holding this world's records; `config` adds to its
 * configuration (its `auth` entries over the authserv-id).
 */
export async function startAuthWorldService(config: DeepPartial<Config>): Promise<AuthWorldService> {
  const dns = await startTestDns();
  populate(dns);
  const svc = await startTestService({
    config: {
      ...config,
      auth: { authservId: AUTHSERV_ID, ...config.auth },
      dns: { servers: [dns.server], budgetMs: 10_000, timeoutMs: 5000 },
    },
  });
  return {
    dns,
    svc,
    async deliver(raw, client, mailFrom) {
      const replies = await rawSession(svc.smtpPort, [
        'EHLO postfix.example\r\n',
        `XFORWARD ADDR=${client.ip} HELO=${client.helo}\r\n`,
        `MAIL FROM:<${mailFrom}>\r\n`,
        'RCPT TO:<bob@example.com>\r\n',
        'DATA\r\n',
        Buffer.concat([raw, Buffer.from('.\r\n')]),
        'QUIT\r\n',
      ]);
      return replies[6] as string;
    },
    async lastLogRow() {
      const { messages } = svc.app.storage;
      await messages.flush();
      return (await messages.list({ limit: 1 })).items[0];
    },
  };
}

/** The auth world's service for one test file: started before its tests, stopped after them. */
export function useAuthWorldService(config: DeepPartial<Config>): AuthWorldService {
  return perFile(
    () => startAuthWorldService(config),
    async ({ svc, dns }) => {
      await svc.stop();
      await dns.close();
    },
  );
}
