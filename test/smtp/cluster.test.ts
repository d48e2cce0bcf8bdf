/**
 * `smtp.processes: 2` (node:cluster): two SMTP workers share the listener and the primary serves the API.
 * Mail flows through both workers, /metrics counts all of it, feedback given to the API changes the score
 * in every worker, SIGHUP reloads the policy of every worker (and a worker given SIGHUP itself, as a
 * terminal's hangup does, lives on), a worker stopping while /metrics is scraped leaves the primary up, and
 * SIGTERM to the whole process group drains (the message in flight ends 250) and exits 0. Needs Postgres (the embedded database is
 * one process's).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { childSurroundings, startChildService, waitForPort } from '../helpers/child-service.js';
import { freePort } from '../helpers/free-port.js';
import { send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';

const ADMIN = 'cluster-test-admin-key-0123456789';
const message = (n: number) =>
  `From: a@example.org\r\nTo: b@example.net\r\nSubject: quarterly numbers ${n}\r\n\r\nHere are the quarterly numbers we discussed, ${n}.\r\n`;
const FEEDBACK_MESSAGE =
  'From: promo@example.com\r\nTo: b@example.net\r\nSubject: your parcel\r\n\r\nYour parcel is waiting, confirm the delivery address.\r\n';
const configFile = path.join(mkdtempSync(path.join(tmpdir(), 'mailsentra-cluster-')), 'mailsentra.yaml');
/** mailsentra_messages_total over every action, as the primary's /metrics reports it. */
async function countedMessages(apiPort: number): Promise<number> {
  const metrics = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
  return [...metrics.matchAll(/^mailsentra_messages_total\{action="[a-z]+"\} (\d+)$/gm)].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );
}

/** The service's SMTP workers: the primary's children that run the service (tsx may have started an
 * esbuild beside them, to compile what its cache did not hold). */
async function workerPids(primary: number): Promise<number[]> {
  const args = ['-P', String(primary), '-f', 'cli\\.[jt]s'];
  const { stdout } = await promisify(execFile)('pgrep', args).catch(() => ({
    stdout: '',
  }));
  return stdout.split('\n').filter(Boolean).map(Number);
}
const scoreOf = (raw: Buffer) => Number(/X-Spam-Score: ([\d.]+)/.exec(raw.toString('latin1'))?.[1]);

describe.skipIf(!process.env.DATABASE_URL)('serve with smtp.processes = 2', () => {
  const around = childSurroundings();

  beforeAll(async () => {
    writeFileSync(configFile, '# defaults\n');
    const apiPort = await freePort();
    around.child = await startChildService({
      smtpPort: await freePort(),
      apiPort,
      relayPort: around.sink.port,
      databaseUrl: around.db.url,
      env: { SMTP_PROCESSES: '2', ADMIN_API_KEY: ADMIN, VERDICT_CACHE: 'off', MAILSENTRA_CONFIG: configFile },
    });
    await waitForPort(apiPort);
  }, 120_000);

  it('relays through both workers and counts every message in the primary’s /metrics', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        send(around.child!.smtpPort, { from: 'a@example.org', to: ['b@example.net'] }, message(n)),
      ),
    );
    expect(results.map((r) => r.code)).toEqual(Array(20).fill(250));
    expect(around.sink.messages).toHaveLength(20);
    // Each worker logs the messages it handled with its own pid.
    const pids = new Set(
      around
        .child!.output()
        .split('\n')
        .filter((l) => l.includes('"event":"MESSAGE_DONE"') || l.includes('"messageId"'))
        .map((l) => (JSON.parse(l) as { pid: number }).pid),
    );
    expect(pids.size).toBe(2);
    expect(await countedMessages(around.child!.apiPort)).toBe(20);
    const metrics = await (await fetch(`http://127.0.0.1:${around.child!.apiPort}/metrics`)).text();
    expect(metrics).toMatch(/^mailsentra_model_info\{version="[^"]+"\} 1$/m);
  }, 60_000);

  it('applies feedback given to the API in every worker', async () => {
    const env = { from: 'promo@example.com', to: ['b@example.net'] };
    around.sink.messages.length = 0;
    for (let i = 0; i < 4; i++)
      expect((await send(around.child!.smtpPort, env, FEEDBACK_MESSAGE)).code).toBe(250);
    const before = around.sink.messages.map((m) => scoreOf(m.raw));
    expect(new Set(before).size).toBe(1);
    const r = await fetch(`http://127.0.0.1:${around.child!.apiPort}/api/v1/feedback`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ raw: FEEDBACK_MESSAGE, label: 'spam' }),
    });
    expect(r.status).toBeLessThan(300);
    // The primary tells the workers, which read the row from the database: asynchronously. Four messages in
    // a row visit both workers; once all four score higher, both learned.
    const after = await waitFor('both workers to learn the feedback', async () => {
      around.sink.messages.length = 0;
      for (let i = 0; i < 4; i++) await send(around.child!.smtpPort, env, FEEDBACK_MESSAGE);
      const scores = around.sink.messages.map((m) => scoreOf(m.raw));
      return scores.length === 4 && scores.every((s) => s > before[0]!) && scores;
    });
    expect(after).toHaveLength(4);
  }, 60_000);

  it('SIGHUP to the primary reloads the policy in both workers; a worker given SIGHUP lives on', async () => {
    const output = () => around.child!.output();
    const workerPids = [
      ...new Set(
        output()
          .split('\n')
          .filter((l) => l.includes('"event":"MESSAGE_DONE"'))
          .map((l) => (JSON.parse(l) as { pid: number }).pid),
      ),
    ];
    expect(workerPids).toHaveLength(2);
    for (const pid of workerPids) process.kill(pid, 'SIGHUP');
    writeFileSync(configFile, 'policy:\n  thresholds: { tag: 0 }\n  subjectPrefix: "[HUP] "\n');
    around.child!.proc.kill('SIGHUP');
    await expect.poll(() => output().match(/"event":"CONFIG_RELOADED"/g)?.length ?? 0).toBe(1);
    // The workers get the policy over IPC, a moment later: once four messages in a row are prefixed, both have it.
    await waitFor('both workers to tag with the reloaded prefix', async () => {
      around.sink.messages.length = 0;
      for (let i = 0; i < 4; i++)
        await send(around.child!.smtpPort, { from: 'a@example.org', to: ['b@example.net'] }, message(i));
      const subjects = around.sink.messages.map((m) => /^Subject: (.*)$/m.exec(m.raw.toString())?.[1]);
      return subjects.length === 4 && subjects.every((x) => x?.startsWith('[HUP] quarterly numbers'));
    });
    for (const pid of workerPids) expect(() => process.kill(pid, 0)).not.toThrow();
    expect(output()).not.toContain('"WORKER_EXITED"');
  }, 60_000);

  it('a worker that replaces a dead one runs with the settings in force, not the file as it is now', async () => {
    const output = () => around.child!.output();
    writeFileSync(configFile, 'policy:\n  thresholds: { tag: high }\n');
    const pid = (
      JSON.parse(
        output()
          .split('\n')
          .findLast((l) => l.includes('"event":"MESSAGE_DONE"'))!,
      ) as { pid: number }
    ).pid;
    // Scraped just before, so the primary has this worker's counts; they must not vanish with it.
    const before = await countedMessages(around.child!.apiPort);
    process.kill(pid, 'SIGKILL');
    await expect.poll(() => output().includes('"WORKER_EXITED"'), { timeout: 15_000 }).toBe(true);
    // The replacement listens and tags with the reloaded prefix; a worker reading the broken file would not start.
    // A replacement starts as the service does: on a loaded machine with a cold compile cache, slowly.
    await waitFor(
      'the replacement worker to serve with the reloaded policy',
      async () => {
        around.sink.messages.length = 0;
        for (let i = 0; i < 4; i++)
          await send(around.child!.smtpPort, { from: 'a@example.org', to: ['b@example.net'] }, message(i));
        const subjects = around.sink.messages.map((m) => /^Subject: (.*)$/m.exec(m.raw.toString())?.[1]);
        const pids = new Set(
          output()
            .split('\n')
            .filter((l) => l.includes('"event":"MESSAGE_DONE"'))
            .slice(-4)
            .map((l) => (JSON.parse(l) as { pid: number }).pid),
        );
        return (
          subjects.length === 4 &&
          subjects.every((x) => x?.startsWith('[HUP] ')) &&
          pids.size === 2 &&
          !pids.has(pid)
        );
      },
      { timeoutMs: 40_000 },
    );
    // Every message handled, by the dead worker too, is still counted: none went back to zero with it.
    const handled = () => output().match(/"event":"MESSAGE_DONE"/g)?.length ?? 0;
    expect(handled()).toBeGreaterThan(before);
    // (The log lines may trail the counters by a moment.)
    await expect.poll(async () => (await countedMessages(around.child!.apiPort)) - handled()).toBe(0);
  }, 60_000);

  it('a worker that stops while /metrics is being scraped does not take the primary down', async () => {
    const output = () => around.child!.output();
    const exitedBefore = output().match(/"WORKER_EXITED"/g)?.length ?? 0;
    const [pid] = await workerPids(around.child!.proc.pid!);
    let scraping = true;
    const scrapes = Array.from({ length: 4 }, async () => {
      while (scraping) {
        await (await fetch(`http://127.0.0.1:${around.child!.apiPort}/metrics`)).text();
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    process.kill(pid!, 'SIGTERM');
    try {
      const gone = () => {
        try {
          process.kill(pid!, 0);
          return false;
        } catch {
          return true;
        }
      };
      await expect.poll(gone, { timeout: 30_000 }).toBe(true);
      await expect
        .poll(() => output().match(/"WORKER_EXITED"/g)?.length ?? 0, { timeout: 10_000 })
        .toBe(exitedBefore + 1);
      await new Promise((r) => setTimeout(r, 500)); // scrapes go on across the exit
    } finally {
      scraping = false;
      await Promise.allSettled(scrapes);
    }
    expect(around.child!.proc.exitCode).toBeNull();
    // The replacement serves; the API still answers.
    await waitFor('two workers again', async () => (await workerPids(around.child!.proc.pid!)).length === 2);
    expect(
      (await send(around.child!.smtpPort, { from: 'a@example.org', to: ['b@example.net'] }, message(99)))
        .code,
    ).toBe(250);
    expect((await fetch(`http://127.0.0.1:${around.child!.apiPort}/metrics`)).status).toBe(200);
  }, 60_000);

  it('SIGTERM to the whole process group, as a supervisor sends it: the message in flight ends 250, exit 0', async () => {
    around.sink.behaviour = { kind: 'stall-ms', ms: 1500 };
    const receiving = around.sink.receiving;
    const inFlight = send(
      around.child!.smtpPort,
      { from: 'a@example.org', to: ['b@example.net'] },
      message(7),
    );
    await expect.poll(() => around.sink.receiving, { timeout: 10_000 }).toBe(receiving + 1);
    const pids = [around.child!.proc.pid!, ...(await workerPids(around.child!.proc.pid!))];
    for (const pid of pids) process.kill(pid, 'SIGTERM');
    expect((await inFlight).code).toBe(250);
    expect(await around.child!.exited).toBe(0);
    expect(around.child!.output().match(/"event":"STOPPED"/g)?.length).toBeGreaterThanOrEqual(3);
  }, 60_000);
});
