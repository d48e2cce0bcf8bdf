/**
 * The admin's commands beside a running service on the embedded store (real child processes, as an admin
 * runs them): `apikey create`, `train` and `migrate` go through the running service, so the key works at
 * once and the trained version is in force there; `scan` scores as the service does, feedback it learned
 * included, beside it and after it stopped; a second `serve` on the same directory is refused with
 * one line before it touches anything; a service killed with SIGKILL does not block the next start.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildService, startChildService, waitForPort } from '../helpers/child-service.js';
import { runCliChild } from '../helpers/cli.js';
import { smallCorpus } from '../helpers/corpus.js';
import { freePort } from '../helpers/free-port.js';
import { type Sink, startSink } from '../helpers/sink.js';

describe('commands beside a running service on the embedded store', () => {
  let sink: Sink;
  let service: ChildService | null = null;
  const dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'mailsentra-embedded-')), 'data');
  // Sender authentication off: its signals are features, so with it on the API's scan of a message (from
  // no client) and `scan`'s (no envelope) would differ a little by design.
  const configFile = path.join(path.dirname(dataDir), 'mailsentra.yaml');
  writeFileSync(configFile, 'auth:\n  enabled: false\n');
  const env = { DATA_DIR: dataDir, DATABASE_URL: '', MAILSENTRA_CONFIG: configFile };
  let ports: { smtpPort: number; apiPort: number };
  const api = (p: string, key: string) =>
    fetch(`http://127.0.0.1:${ports.apiPort}${p}`, { headers: { authorization: `Bearer ${key}` } });

  const start = () =>
    startChildService({
      ...ports,
      relayPort: sink.port,
      databaseUrl: null,
      dataDir,
      env: { MAILSENTRA_CONFIG: configFile },
      timeoutMs: 180_000,
    });

  beforeAll(async () => {
    sink = await startSink();
    ports = { smtpPort: await freePort(), apiPort: await freePort() };
    service = await start();
  }, 200_000);
  afterAll(async () => {
    if (service && service.proc.exitCode === null) service.proc.kill('SIGKILL');
    await sink?.close();
  });

  let adminKey = '';

  it('logs its start-up steps at info level, so a slow first start is visibly working', async () => {
    // SMTP listens before the API does; LISTENING follows both.
    await expect.poll(() => service?.output().includes('"LISTENING"'), { timeout: 20_000 }).toBe(true);
    const events = (service?.output() ?? '')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => (JSON.parse(l) as { event?: string }).event);
    const steps = [
      'STORE_OPENING',
      'STORE_READY',
      'MODEL_LOADING',
      'MODEL_READY',
      'CONTROL_LISTENING',
      'LISTENING',
    ];
    expect(steps.map((e) => events.indexOf(e))).toEqual(
      [...steps.map((e) => events.indexOf(e))].sort((a, b) => a - b),
    );
    expect(steps.every((e) => events.includes(e))).toBe(true);
  });

  it('apikey create: the key works at once against the running API', async () => {
    const out = await runCliChild(['apikey', 'create', '--role', 'admin'], env);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    adminKey = out.stdout.trim();
    const res = await api('/api/v1/keys', adminKey);
    expect(res.status).toBe(200);
  }, 90_000);

  it('migrate: answered by the running service', async () => {
    const out = await runCliChild(['migrate'], env);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/up to date \(through the running service\)/);
  }, 90_000);

  it('train: the new version is stored and in force in the running service', async () => {
    const out = await runCliChild(['train', '--corpus', smallCorpus()], env, { timeoutMs: 180_000 });
    expect(out.code, out.stderr).toBe(0);
    const version = /stored and activated (\S+)/.exec(out.stdout)?.[1];
    expect(version).toBeDefined();
    const models = (await (await api('/api/v1/models', adminKey)).json()) as {
      version: string;
      active: boolean;
    }[];
    expect(models.find((m) => m.active)?.version).toBe(version);
    const metrics = await (await fetch(`http://127.0.0.1:${ports.apiPort}/metrics`)).text();
    expect(metrics).toContain(`mailsentra_model_info{version="${version}"} 1`);
  }, 200_000);

  describe('scan scores as the service does, with the feedback it learned', () => {
    const mail = Buffer.from(
      'From: Dana <dana@partner.example>\r\nTo: ops@example.com\r\nSubject: quarterly figures\r\n' +
        'Message-ID: <figures@partner.example>\r\n\r\nHi, the quarterly figures are attached. Dana\r\n',
    );
    const file = path.join(path.dirname(dataDir), 'figures.eml');
    const serviceScore = async () => {
      const res = await fetch(`http://127.0.0.1:${ports.apiPort}/api/v1/scan`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'message/rfc822' },
        body: mail,
      });
      return ((await res.json()) as { score: number }).score;
    };
    const cliScore = async () => {
      const out = await runCliChild(['scan', '--json', file], env, { timeoutMs: 120_000 });
      expect(out.code, out.stderr).toBe(0);
      return (JSON.parse(out.stdout) as { score: number }).score;
    };

    it('beside the running service: the report just made counts', async () => {
      writeFileSync(file, mail);
      const before = await serviceScore();
      const res = await fetch(`http://127.0.0.1:${ports.apiPort}/api/v1/feedback`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ raw: mail.toString(), label: 'spam' }),
      });
      expect(res.status).toBe(200);
      const taught = await serviceScore();
      expect(taught).toBeGreaterThan(before + 0.01);
      expect(await cliScore()).toBeCloseTo(taught, 5);
    }, 200_000);

    it('after the service stopped, and after it started again', async () => {
      const taught = await serviceScore();
      service?.proc.kill('SIGTERM');
      await service?.exited;
      try {
        expect(await cliScore()).toBeCloseTo(taught, 5);
      } finally {
        service = await start(); // the tests below need it
      }
      await waitForPort(ports.apiPort); // the API listens after SMTP, which start() waits for
      expect(await serviceScore()).toBeCloseTo(taught, 5);
    }, 300_000);
  });

  it('a second serve on the same directory is refused with one line, before it touches anything', async () => {
    const out = await runCliChild(['serve'], {
      ...env,
      SMTP_LISTEN: `127.0.0.1:${await freePort()}`,
      API_LISTEN: `127.0.0.1:${await freePort()}`,
    });
    expect(out.code).toBe(75);
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
    expect(out.stderr).toContain(`pid ${service?.proc.pid}`);
    // The running service still answers.
    expect((await api('/api/v1/keys', adminKey)).status).toBe(200);
  }, 90_000);

  it('a service killed with SIGKILL does not block the next start, and kept what was written through it', async () => {
    service?.proc.kill('SIGKILL');
    await service?.exited;
    service = await start();
    await expect
      .poll(async () => (await api('/api/v1/keys', adminKey)).status, { timeout: 60_000 })
      .toBe(200);
  }, 120_000);
});
