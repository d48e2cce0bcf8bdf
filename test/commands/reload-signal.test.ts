/**
 * SIGHUP on a running `serve` (a real child process and a real signal, embedded store): the configuration
 * file is read again and its policy applies to the next message; a changed setting that needs a restart is
 * named; a file that no longer loads leaves the settings in force; the process never stops for it, and a
 * SIGTERM still ends it cleanly.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildService, startChildService } from '../helpers/child-service.js';
import { freePort } from '../helpers/free-port.js';
import { type Sink, startSink } from '../helpers/sink.js';
import { send } from '../helpers/smtp-client.js';

const dir = mkdtempSync(path.join(tmpdir(), 'mailsentra-reload-'));
const configFile = path.join(dir, 'mailsentra.yaml');
const MESSAGE =
  'From: a@example.org\r\nTo: b@example.net\r\nSubject: quarterly numbers\r\n\r\nHere are the numbers we discussed.\r\n';

describe('serve reloads its configuration on SIGHUP', () => {
  let sink: Sink;
  let service: ChildService | null = null;

  const events = (name: string) =>
    (service?.output() ?? '')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.event === name);
  /** Sends the message and returns the subject the next hop received. */
  const subjectDelivered = async () => {
    sink.messages.length = 0;
    const r = await send(service!.smtpPort, { from: 'a@example.org', to: ['b@example.net'] }, MESSAGE);
    expect(r.code).toBe(250);
    return /^Subject: (.*)$/m.exec(sink.messages[0]?.raw.toString() ?? '')?.[1];
  };
  const hangUp = async (event: string, count: number) => {
    service!.proc.kill('SIGHUP');
    await expect.poll(() => events(event).length, { timeout: 15_000 }).toBe(count);
  };

  beforeAll(async () => {
    sink = await startSink();
    // Nothing tagged: no threshold at all.
    writeFileSync(configFile, 'policy:\n  thresholds: { tag: null, quarantine: null, reject: null }\n');
    service = await startChildService({
      smtpPort: await freePort(),
      apiPort: await freePort(),
      relayPort: sink.port,
      databaseUrl: null,
      dataDir: path.join(dir, 'data'),
      env: { MAILSENTRA_CONFIG: configFile, VERDICT_CACHE: 'off' },
      timeoutMs: 180_000,
    });
  }, 200_000);
  afterAll(async () => {
    if (service && service.proc.exitCode === null) service.proc.kill('SIGKILL');
    await sink?.close();
  });

  it('applies the new policy to the next message and names what waits for a restart', async () => {
    expect(await subjectDelivered()).toBe('quarterly numbers');
    writeFileSync(
      configFile,
      'policy:\n  thresholds: { tag: 0, quarantine: null, reject: null }\n  subjectPrefix: "[HUP] "\n' +
        'smtp:\n  maxRecipients: 7\n',
    );
    await hangUp('CONFIG_RELOADED', 1);
    expect(events('CONFIG_RELOADED')[0]?.applied).toEqual(['policy.subjectPrefix', 'policy.thresholds.tag']);
    expect(events('CONFIG_RESTART_NEEDED')[0]?.settings).toEqual(['smtp.maxRecipients']);
    expect(await subjectDelivered()).toBe('[HUP] quarterly numbers');
  }, 60_000);

  it('keeps the settings in force when the file no longer loads, and goes on', async () => {
    writeFileSync(configFile, 'policy:\n  thresholds: { tag: high }\n');
    await hangUp('CONFIG_RELOAD_FAILED', 1);
    expect(events('CONFIG_RELOAD_FAILED')[0]).toMatchObject({ setting: 'policy.thresholds.tag' });
    expect(service!.proc.exitCode).toBeNull();
    expect(await subjectDelivered()).toBe('[HUP] quarterly numbers');
  }, 60_000);

  it('still stops cleanly on SIGTERM', async () => {
    service!.proc.kill('SIGTERM');
    expect(await service!.exited).toBe(0);
  }, 60_000);
});

describe('serve given SIGHUP while it starts', () => {
  it('holds the reload until it is ready, then applies it, and never stops for it', async () => {
    const sink = await startSink();
    const file = path.join(dir, 'early.yaml');
    writeFileSync(file, 'policy:\n  subjectPrefix: "[EARLY] "\n');
    const smtpPort = await freePort();
    const starting = startChildService({
      smtpPort,
      apiPort: await freePort(),
      relayPort: sink.port,
      databaseUrl: null,
      dataDir: path.join(dir, 'early-data'),
      env: { MAILSENTRA_CONFIG: file },
      timeoutMs: 180_000,
    });
    // The signal goes as soon as the process takes SIGHUP (bit 1 of SigCgt), long before it listens.
    const pid = await new Promise<number>((resolve) => {
      const poll = setInterval(() => {
        for (const entry of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
          try {
            if (!readFileSync(`/proc/${entry}/environ`, 'latin1').includes(`MAILSENTRA_CONFIG=${file}\0`))
              continue;
            const caught = /^SigCgt:\s*([0-9a-f]+)$/m.exec(
              readFileSync(`/proc/${entry}/status`, 'latin1'),
            )?.[1];
            if (caught && (BigInt(`0x${caught}`) & 1n) !== 0n) {
              clearInterval(poll);
              resolve(Number(entry));
              return;
            }
          } catch {
            // a process that ended, or one of another user
          }
        }
      }, 5);
    });
    process.kill(pid, 'SIGHUP');
    const child = await starting;
    try {
      await expect.poll(() => child.output().includes('"CONFIG_RELOADED"'), { timeout: 15_000 }).toBe(true);
      expect(child.output().indexOf('"CONFIG_RELOADED"')).toBeGreaterThan(
        child.output().indexOf('"LISTENING"'),
      );
      expect(child.proc.exitCode).toBeNull();
      child.proc.kill('SIGTERM');
      expect(await child.exited).toBe(0);
    } finally {
      if (child.proc.exitCode === null) child.proc.kill('SIGKILL');
      await sink.close();
    }
  }, 200_000);
});
