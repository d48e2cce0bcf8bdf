/**
 * The admin's commands beside a running service on the embedded store (real child processes, as an admin
 * runs them): `apikey create`, `train` and `migrate` go through the running service, so the key works at
 * once and the trained version is in force there; a second `serve` on the same directory is refused with
 * one line before it touches anything; a service killed with SIGKILL does not block the next start.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildService, startChildService } from '../helpers/child-service.js';
import { runCliChild } from '../helpers/cli.js';
import { smallCorpus } from '../helpers/corpus.js';
import { freePort } from '../helpers/free-port.js';
import { type Sink, startSink } from '../helpers/sink.js';

describe('commands beside a running service on the embedded store', () => {
  let sink: Sink;
  let service: ChildService | null = null;
  const dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'mailsentra-embedded-')), 'data');
  const env = { DATA_DIR: dataDir, DATABASE_URL: '' };
  let ports: { smtpPort: number; apiPort: number };
  const api = (p: string, key: string) =>
    fetch(`http://127.0.0.1:${ports.apiPort}${p}`, { headers: { authorization: `Bearer ${key}` } });

  const start = () =>
    startChildService({ ...ports, relayPort: sink.port, databaseUrl: null, dataDir, timeoutMs: 180_000 });

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
