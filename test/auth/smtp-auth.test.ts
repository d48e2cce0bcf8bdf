/**
 * Sender authentication through the whole service: a real SMTP session (XFORWARD gives the client address
 * as Postfix would), the loopback DNS server, the relay sink, the verdict log and /metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDnsCache } from '../../src/auth/dns-cache.js';
import { createResolver } from '../../src/auth/resolver.js';
import { createVerifier } from '../../src/auth/verify.js';
import { createMetrics } from '../../src/observability/metrics.js';
import {
  AUTHSERV_ID,
  ORIGIN_IP,
  plainMessage,
  STRANGER_IP,
  signedMessage,
  useAuthWorldService,
} from '../helpers/auth-world.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { rawSession, send } from '../helpers/smtp-client.js';

const AUTHSERV = AUTHSERV_ID;
const world = useAuthWorldService({
  policy: { allowSenders: ['@authorg.example'], thresholds: { quarantine: null } },
});

const headerFields = (raw: Buffer, name: string) => {
  const head = raw.toString('latin1').split('\r\n\r\n')[0] as string;
  return head.split(/\r\n(?![ \t])/).filter((f) => f.toLowerCase().startsWith(`${name.toLowerCase()}:`));
};

describe('sender authentication in the SMTP proxy', () => {
  it('stamps our Authentication-Results, removes a forged one, keeps others, and DKIM still verifies', async () => {
    const forged =
      `Authentication-Results: ${AUTHSERV}; dkim=pass header.d=authbank.example; dmarc=pass\r\n` +
      'Authentication-Results: upstream.example; spf=pass smtp.mailfrom=authorg.example\r\n';
    const raw = Buffer.concat([Buffer.from(forged), await signedMessage('Board minutes')]);
    const reply = await world.deliver(
      raw,
      { ip: ORIGIN_IP, helo: 'mail.authorg.example' },
      'alice@authorg.example',
    );
    expect(reply).toMatch(/^250 /);
    const received = world.svc.sink.messages.at(-1)?.raw as Buffer;
    const results = headerFields(received, 'Authentication-Results');
    expect(results).toHaveLength(2);
    const ours = results.filter((f) => f.includes(`${AUTHSERV};`));
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatch(/dkim=pass/);
    expect(ours[0]).toMatch(/spf=pass/);
    expect(ours[0]).toMatch(/dmarc=pass/);
    expect(ours[0]).not.toMatch(/authbank\.example/);
    expect(results.some((f) => f.includes('upstream.example;'))).toBe(true);

    // The delivered copy still carries a valid signature (our headers are prepended, nothing signed changed).
    const metrics = createMetrics({ defaultMetrics: false });
    const cache = createDnsCache({ memoryEntries: 100, redis: null, redisTimeoutMs: 50 });
    const resolver = createResolver(
      {
        servers: [world.dns.server],
        timeoutMs: 300,
        budgetMs: 1000,
        maxTtlSeconds: 60,
        negativeTtlSeconds: 60,
      },
      { cache, metrics },
    );
    const again = await createVerifier(
      { authservId: 'x', minKeyBits: 1024, budgetMs: 1000 },
      { resolver, metrics },
    ).verify({
      raw: received,
      clientIp: ORIGIN_IP,
      helo: 'mail.authorg.example',
      mailFrom: 'alice@authorg.example',
    });
    expect(again.dkim[0]?.result).toBe('pass');

    const row = await world.lastLogRow();
    expect(row?.auth).toMatchObject({ spf: 'pass', dkim: 'pass', dmarc: 'pass', arc: 'none' });
    expect(row?.auth?.signals.map((s) => s.name)).toContain('auth-results-forged');
    // Authenticated allow-listed sender: passed by the list, and the reason says how it was authenticated.
    expect(row?.reason).toMatch(/allow list entry @authorg\.example \((spf|dkim) aligned\)/);
  });

  it('rejects a spoofed p=reject domain with a reason and the log id', async () => {
    const raw = plainMessage('Bank <security@authbank.example>', 'Verify your account now');
    const reply = await world.deliver(
      raw,
      { ip: STRANGER_IP, helo: 'spoofer.invalid' },
      'security@authbank.example',
    );
    expect(reply).toMatch(/^550 5\.7\.1 .*DMARC/);
    const row = await world.lastLogRow();
    expect(reply).toContain(row?.id as string);
    expect(row).toMatchObject({ action: 'reject', status: 'rejected', score: null });
    expect(row?.auth).toMatchObject({ spf: 'fail', dmarc: 'fail', dmarcPolicy: 'reject' });
  });

  it('scores a forged allow-listed sender instead of passing it', async () => {
    // MAIL FROM and From in authorg.example (allow-listed, aligned only), sent from a stranger's address, unsigned:
    // SPF fails, no DKIM, and DMARC p=reject. With DMARC ignored the allow entry alone is what is tested.
    const raw = plainMessage('Alice <alice@authorg.example>', 'Invoice overdue');
    const before = world.svc.sink.messages.length;
    const reply = await world.deliver(raw, { ip: STRANGER_IP, helo: 'x.invalid' }, 'alice@authorg.example');
    expect(reply).toMatch(/^550 5\.7\.1 .*DMARC/); // the default policy: p=reject honoured
    expect(world.svc.sink.messages.length).toBe(before);
  });

  it('counts results in /metrics', async () => {
    const res = await fetch(`http://127.0.0.1:${world.svc.apiPort}/metrics`);
    const text = await res.text();
    expect(text).toMatch(/mailsentra_auth_results_total\{method="dmarc",result="fail"\} [1-9]/);
    expect(text).toMatch(/mailsentra_auth_results_total\{method="dkim",result="pass"\} [1-9]/);
    expect(text).toMatch(/mailsentra_dns_lookup_duration_seconds_count\{source="network"\} [1-9]/);
  });
});

describe('sender authentication off', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ config: { auth: { enabled: false, authservId: AUTHSERV } } });
  });
  afterAll(async () => {
    await svc?.stop();
  });

  it("still removes an Authentication-Results claiming our authserv-id, and keeps other servers'", async () => {
    const raw =
      `Authentication-Results: ${AUTHSERV}; dkim=pass header.d=authbank.example; dmarc=pass\r\n` +
      'Authentication-Results: upstream.example; spf=pass smtp.mailfrom=authorg.example\r\n' +
      'From: a@authbank.example\r\nTo: b@example.net\r\nSubject: statement\r\n\r\nYour statement.\r\n';
    const reply = await send(svc.smtpPort, { from: 'a@authbank.example', to: ['b@example.net'] }, raw);
    expect(reply.code).toBe(250);
    const results = headerFields(svc.sink.messages.at(-1)?.raw as Buffer, 'Authentication-Results');
    expect(results).toEqual([
      'Authentication-Results: upstream.example; spf=pass smtp.mailfrom=authorg.example',
    ]);
  });
});

describe('a forged allow-listed sender when DMARC is not honoured', () => {
  let lax: TestService;
  beforeAll(async () => {
    lax = await startTestService({
      config: {
        auth: { authservId: AUTHSERV },
        dns: { servers: [world.dns.server], budgetMs: 10_000, timeoutMs: 5000 },
        policy: {
          allowSenders: ['@authorg.example'],
          dmarc: { reject: 'ignore' },
          thresholds: { quarantine: null },
        },
      },
    });
  });
  afterAll(async () => {
    await lax.stop();
  });

  it('is scored, and the log says why the allow entry did not apply', async () => {
    const replies = await rawSession(lax.smtpPort, [
      'EHLO postfix.example\r\n',
      `XFORWARD ADDR=${STRANGER_IP} HELO=x.invalid\r\n`,
      'MAIL FROM:<alice@authorg.example>\r\n',
      'RCPT TO:<bob@example.com>\r\n',
      'DATA\r\n',
      Buffer.concat([plainMessage('Alice <alice@authorg.example>', 'Invoice overdue'), Buffer.from('.\r\n')]),
      'QUIT\r\n',
    ]);
    expect(replies[6]).toMatch(/^250 /);
    await lax.app.storage.messages.flush();
    const [row] = (await lax.app.storage.messages.list({ limit: 1 })).items;
    expect(row?.score).not.toBeNull();
    expect(row?.reason).toMatch(
      /allow entry @authorg\.example ignored: sender not authenticated \(spf=fail dkim=none/,
    );
  });
});
