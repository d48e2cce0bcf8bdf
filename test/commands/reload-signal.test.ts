/**
 * SIGHUP on a running `serve` (a real child process and a real signal, embedded store): the configuration
 * file is read again and its policy applies to the next message; a changed setting that needs a restart is
 * named; a file that no longer loads leaves the settings in force; the process never stops for it, and a
 * SIGTERM still ends it cleanly.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
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
