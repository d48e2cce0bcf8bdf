/**
 * The milter against `miltertest` (Debian package miltertest, from OpenDKIM), libmilter's own MTA-side test
 * driver: the Lua scripts in test/milter/lua/ run against the real server. A missing miltertest fails the
 * test (.ci/run installs it), it never skips.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSpamAssassin } from '../../src/classifier/corpus.js';
import { startMilterService } from '../helpers/milter-client.js';
import type { TestService } from '../helpers/service.js';

const run = promisify(execFile);
const corpus = loadSpamAssassin('test');
const crlf = (b: Buffer) => Buffer.from(b.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
const HAM = crlf(
  corpus.find((m) => m.label === 'ham' && m.raw.length < 4000 && !m.raw.includes('\n\n\n'))!.raw,
);
const SPAM = crlf(corpus.find((m) => m.label === 'spam' && m.raw.length < 6000)!.raw);
const LUA = fileURLToPath(new URL('./lua', import.meta.url));

describe('miltertest scripts against the milter', () => {
  let svc: TestService;
  let dir: string;
  beforeAll(async () => {
    svc = await startMilterService({ domains: { 'reject.example': { reject: 0.9 } } });
    dir = await mkdtemp(path.join(tmpdir(), 'mailsentra-miltertest-'));
    await writeFile(path.join(dir, 'ham.eml'), HAM);
    await writeFile(path.join(dir, 'spam.eml'), SPAM);
  });
  afterAll(async () => {
    await svc?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function script(name: string) {
    const args = [
      ['port', String(svc.milterPort)],
      ['dir', LUA],
      ['ham', path.join(dir, 'ham.eml')],
      ['spam', path.join(dir, 'spam.eml')],
    ].flatMap(([k, v]) => ['-D', `${k}=${v}`]);
    try {
      await run('miltertest', [...args, '-s', path.join(LUA, name)], { timeout: 60_000 });
    } catch (err) {
      const e = err as Error & { stdout?: string; stderr?: string };
      throw new Error(`miltertest ${name} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  }

  async function row(sessionId: string) {
    await svc.app.storage.messages.flush();
    return (await svc.app.storage.messages.list({ limit: 100 })).items.find((m) => m.sessionId === sessionId);
  }

  it('passes ham with our headers and deletes a forged X-Spam-Flag', async () => {
    await script('ham.lua');
    expect(await row('MTHAM')).toMatchObject({ action: 'pass', clientIp: '192.0.2.44' });
  });

  it('quarantines spam and has the MTA discard its copy', async () => {
    await script('spam.lua');
    expect(await row('MTSPAM')).toMatchObject({ action: 'quarantine', status: 'quarantined' });
    const held = await svc.app.storage.quarantine.list({ state: 'held', recipient: 'carol@example.net' });
    expect(held.items).toHaveLength(1);
  });

  it('rejects with 550 5.7.1 for a domain that rejects', async () => {
    await script('reject.lua');
    const r = await row('MTREJECT');
    expect(r).toMatchObject({ action: 'reject', status: 'rejected' });
    expect(r?.response).toMatch(new RegExp(`^550 5\\.7\\.1 Message rejected as spam .*ref ${r?.id}\\)$`));
  });

  it('forgets an aborted message', async () => {
    await script('abort.lua');
    expect(await row('MTABORTED')).toBeUndefined();
    expect(await row('MTAFTER')).toMatchObject({
      mailFrom: 'frank@example.org',
      rcptTo: ['gina@example.net'],
    });
  });
});
