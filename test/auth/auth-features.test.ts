/**
 * Authentication results as classifier features, through the whole service: messages delivered over SMTP
 * (XFORWARD names the client) are logged with their auth signals; feedback by log id learns them; the scan
 * API verifies with the envelope it is given and keys the verdict cache on the results.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ORIGIN_IP,
  plainMessage,
  STRANGER_IP,
  signedMessage,
  useAuthWorldService,
} from '../helpers/auth-world.js';

const ADMIN = 'auth-features-admin-key-0123456789';
const world = useAuthWorldService({
  api: { adminApiKey: ADMIN },
  // p=reject is left to the score here (the classifier is what is tested); p=quarantine is honoured.
  policy: { dmarc: { reject: 'ignore' }, thresholds: { quarantine: null } },
});

interface Verdict {
  score: number;
  cached: boolean;
  topFeatures: { feature: string; weight: number }[];
  auth: { spf: string; spfChecked?: boolean; dkim: string; dmarc: string; signals: { name: string }[] };
}

async function call(method: string, url: string, body?: Buffer | object, key: string | null = ADMIN) {
  const raw = Buffer.isBuffer(body);
  const res = await fetch(`http://127.0.0.1:${world.svc.apiPort}${url}`, {
    method,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body === undefined ? {} : { 'content-type': raw ? 'message/rfc822' : 'application/json' }),
    },
    ...(body === undefined ? {} : { body: raw ? body : JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function scan(raw: Buffer, query = ''): Promise<Verdict> {
  const res = await call('POST', `/api/v1/scan${query}`, raw);
  expect(res.status).toBe(200);
  return res.json as unknown as Verdict; // the route's response schema checked its shape
}

/** Delivers over SMTP as Postfix would (XFORWARD) and returns the message's log id. */
async function deliver(raw: Buffer, ip: string, mailFrom: string): Promise<string> {
  expect(await world.deliver(raw, { ip, helo: 'mail.sender.example' }, mailFrom)).toMatch(/^250 /);
  return (await world.lastLogRow())?.id as string;
}

const spoof = (subject: string) => plainMessage('Bank <security@authbank.example>', subject);
const stranger = `?clientIp=${STRANGER_IP}&helo=x.invalid&mailFrom=security@authbank.example`;
const names = (v: Verdict) => v.auth.signals.map((s) => s.name);

describe('authentication results as classifier features', () => {
  it('scan without an envelope checks DKIM and DMARC, says SPF was not checked, and refuses a bad one', async () => {
    const signed = await signedMessage('Scan without envelope');
    const bare = await scan(signed);
    expect(bare.auth).toMatchObject({ spf: 'none', spfChecked: false, dkim: 'pass', dmarc: 'pass' });
    expect(names(bare)).toEqual(['dkim-pass-aligned', 'dmarc-pass']);

    const full = await scan(
      signed,
      `?clientIp=${ORIGIN_IP}&helo=mail.authorg.example&mailFrom=alice@authorg.example`,
    );
    expect(full.auth).toMatchObject({ spf: 'pass', spfChecked: true });
    expect(names(full)).toContain('spf-pass');

    for (const [query, field] of [
      ['?clientIp=999.1.1.1', 'clientIp'],
      ['?clientIp=example.org', 'clientIp'],
      ['?clientIp=1.2.3.4&clientIp=5.6.7.8', 'clientIp'],
      ['?helo=a%0d%0aRCPT%20TO:x', 'helo'],
      [`?mailFrom=${'a'.repeat(300)}@x.example`, 'mailFrom'],
    ] as const) {
      const res = await call('POST', `/api/v1/scan${query}`, signed);
      expect(res.status, query).toBe(400);
      expect(res.json.message, query).toContain(field);
    }
    expect((await call('POST', `/api/v1/scan?clientIp=${ORIGIN_IP}`, signed, null)).status).toBe(401);
    expect((await call('POST', `/api/v1/scan?clientIp=${ORIGIN_IP}`, signed, 'not-a-key')).status).toBe(401);
  });

  it('keys the verdict cache on the results: the same bytes from another client are scored again', async () => {
    // New text every run: the verdict cache in the shared Redis outlives a run.
    const signed = await signedMessage(`Cache key by results ${randomUUID()}`);
    const origin = `?clientIp=${ORIGIN_IP}&helo=mail.authorg.example&mailFrom=alice@authorg.example`;
    const other = `?clientIp=${STRANGER_IP}&helo=x.invalid&mailFrom=alice@authorg.example`;
    expect((await scan(signed, origin)).cached).toBe(false);
    expect((await scan(signed, origin)).cached).toBe(true);
    const fromStranger = await scan(signed, other);
    expect(fromStranger.cached).toBe(false);
    expect(names(fromStranger)).toContain('spf-fail');
    expect((await scan(signed, other)).cached).toBe(true);
  });

  it('feedback by log id learns the results the message was scanned with, and DMARC failure gains weight', {
    timeout: 60_000,
  }, async () => {
    // The default model never saw live results: the signal is unknown to it, and not in any explanation.
    const before = await scan(spoof('Your statement is ready'), stranger);
    expect(names(before)).toContain('dmarc-fail-reject');
    expect(before.topFeatures.map((f) => f.feature)).not.toContain('x:dmarc-fail-reject');
    const probe = world.svc.app.activeModel.current().score(['x:dmarc-fail-reject']);
    expect(probe.evidence?.known ?? 0).toBe(0);

    // The same text, spoofed (reported spam) and genuinely sent by authorg.example (reported ham): the words
    // are taught both ways, the results one way each.
    for (const subject of ['Statement 1', 'Statement 2', 'Statement 3', 'Statement 4']) {
      const spoofId = await deliver(spoof(subject), STRANGER_IP, 'security@authbank.example');
      const genuineId = await deliver(await signedMessage(subject), ORIGIN_IP, 'alice@authorg.example');
      for (const [messageId, label] of [
        [spoofId, 'spam'],
        [genuineId, 'ham'],
      ] as const) {
        const res = await call('POST', '/api/v1/feedback', { messageId, label });
        expect(res.status).toBe(200);
      }
    }
    const rows = [];
    for await (const row of world.svc.app.storage.feedback.replayable(null, 100)) rows.push(row);
    expect(rows.filter((r) => r.authSignals.includes('dmarc-fail-reject'))).toHaveLength(4);
    expect(rows.filter((r) => r.authSignals.includes('dkim-pass-aligned'))).toHaveLength(4);

    const after = await scan(spoof('Your statement is ready'), stranger);
    const dmarc = after.topFeatures.find((f) => f.feature === 'x:dmarc-fail-reject');
    expect(dmarc?.weight).toBeGreaterThan(0);
    expect(after.score).toBeGreaterThan(before.score);
    // The same bytes genuinely sent now score lower than their spoofed copy.
    const genuine = await signedMessage('Your statement is ready');
    const asSent = await scan(
      genuine,
      `?clientIp=${ORIGIN_IP}&helo=mail.authorg.example&mailFrom=alice@authorg.example`,
    );
    const forged = await scan(
      genuine,
      `?clientIp=${STRANGER_IP}&helo=x.invalid&mailFrom=alice@authorg.example`,
    );
    expect(forged.score).toBeGreaterThan(asSent.score);
  });

  it('a quarantine release learned as ham keeps the results of the held message', async () => {
    const held = plainMessage('Shop <news@authquar.example>', 'Weekly offers');
    await deliver(held, STRANGER_IP, 'news@authquar.example');
    const list = await call('GET', '/api/v1/quarantine');
    const item = (list.json.items as { id: string; headerFrom: string | null }[]).find((i) =>
      i.headerFrom?.includes('authquar.example'),
    );
    expect(item).toBeDefined();
    const released = await call('POST', `/api/v1/quarantine/${item?.id}/release`, { learnAsHam: true });
    expect(released.status).toBe(200);
    const rows = [];
    for await (const row of world.svc.app.storage.feedback.replayable(null, 100)) rows.push(row);
    const lesson = rows.find((r) => r.label === 'ham' && r.authSignals.includes('dmarc-fail-quarantine'));
    expect(lesson?.authSignals).toEqual(expect.arrayContaining(['spf-fail', 'dkim-none']));
  });
});
