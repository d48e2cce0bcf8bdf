import { generateKeyPairSync } from 'node:crypto';
import { createRequire } from 'node:module';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.js';

// mailauth is CommonJS; its verifier takes a resolver, so no DNS lookup happens here.
const { dkimVerify } = createRequire(import.meta.url)('mailauth/lib/dkim/verify') as {
  dkimVerify(
    input: Buffer,
    options: { resolver: (name: string, type: string) => Promise<string[][]> },
  ): Promise<{ results: { status: { result: string } }[] }>;
};

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const selectorRecord = `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;
const resolver = async (name: string, type: string) => {
  if (type === 'TXT' && name === 'sel._domainkey.example.org') return [[selectorRecord]];
  throw Object.assign(new Error(`no such record ${name}`), { code: 'ENOTFOUND' });
};

async function signed(subject: string, text: string): Promise<Buffer> {
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  const info = await composer.sendMail({
    from: 'alice@example.org',
    to: 'bob@example.net',
    subject,
    text,
    dkim: {
      domainName: 'example.org',
      keySelector: 'sel',
      privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    },
  });
  return info.message as Buffer;
}

describe('DKIM signatures survive the proxy', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ config: { policy: { thresholds: { quarantine: null } } } });
  });
  afterAll(async () => {
    await svc.stop();
  });

  const deliver = async (raw: Buffer) => {
    const client = nodemailer.createTransport({ host: '127.0.0.1', port: svc.smtpPort, ignoreTLS: true });
    await client.sendMail({ envelope: { from: 'alice@example.org', to: ['bob@example.net'] }, raw });
    client.close();
    return svc.sink.messages.at(-1)!.raw;
  };

  it('verifies before and after passing through with X-Spam headers added', async () => {
    const raw = await signed('Lunch on Thursday', 'Shall we meet at noon at the usual place?');
    expect((await dkimVerify(raw, { resolver })).results[0]?.status.result).toBe('pass');
    const relayed = await deliver(raw);
    expect(relayed.toString()).toMatch(/^X-Spam-Flag: NO/);
    expect((await dkimVerify(relayed, { resolver })).results[0]?.status.result).toBe('pass');
  });

  it('verifies after tagging as spam (no subject prefix: a prefix rewrites the signed Subject)', async () => {
    const spammy =
      'FREE MONEY!!! Click here to claim your cash prize now, limited offer, act now, viagra, casino, winner!';
    const raw = await signed('You are a WINNER - claim your FREE cash prize', spammy.repeat(5));
    await svc.stop();
    svc = await startTestService({
      config: { policy: { thresholds: { tag: 0.3, quarantine: null }, subjectPrefix: '' } },
    });
    const relayed = await deliver(raw);
    expect(relayed.toString()).toMatch(/^X-Spam-Flag: YES/);
    expect((await dkimVerify(relayed, { resolver })).results[0]?.status.result).toBe('pass');
  });
});
