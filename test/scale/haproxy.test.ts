/**
 * Scale-out proof with the real Debian HAProxy: two `mailsentra serve` processes on one Postgres and one Redis
 * behind HAProxy in TCP mode with `send-proxy` (PROXY protocol v1). Mail goes through HAProxy while one
 * instance is stopped and started again: every message reaches the next hop, every verdict is in the shared
 * log with the client address HAProxy reported, and feedback given to one instance reaches the other.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildService, startChildService, waitForPort } from '../helpers/child-service.js';
import { freshDatabaseUrl } from '../helpers/db.js';
import { freePort } from '../helpers/free-port.js';
import { type Sink, startSink } from '../helpers/sink.js';
import { send } from '../helpers/smtp-client.js';

const KEY = 'haproxy-test-admin-key-0123456789abcdef';
const TOTAL = 30;
const message = (n: number) =>
  `From: a@example.org\r\nTo: b@example.net\r\nSubject: through haproxy ${n}\r\n\r\nMessage number ${n}.\r\n`;
const FEEDBACK_RAW =
  'From: c@example.org\r\nTo: b@example.net\r\nSubject: quarterly figures\r\n\r\nPlease find the quarterly figures zqxhaproxyword attached.\r\n';

describe.runIf(process.env.DATABASE_URL && process.env.REDIS_URL)('two instances behind HAProxy', () => {
  let db: { url: string; drop(): Promise<void> };
  let sink: Sink;
  let haproxy: ChildProcess;
  let dir: string;
  let lbPort: number;
  const instances: { ports: { smtpPort: number; apiPort: number }; dataDir: string; child: ChildService }[] =
    [];

  const start = (i: number) => {
    const inst = instances[i] as (typeof instances)[number];
    return startChildService({
      ...inst.ports,
      relayPort: sink.port,
      databaseUrl: db.url,
      dataDir: inst.dataDir,
      env: {
        REDIS_URL: process.env.REDIS_URL as string,
        SMTP_PROXY_PROTOCOL_FROM: '127.0.0.1/32',
        ADMIN_API_KEY: KEY,
        VERDICT_CACHE: 'off',
        LOG_LEVEL: 'warn',
      },
    });
  };

  beforeAll(async () => {
    db = await freshDatabaseUrl();
    sink = await startSink();
    dir = mkdtempSync(path.join(tmpdir(), 'mailsentra-haproxy-'));
    for (let i = 0; i < 2; i++) {
      const ports = { smtpPort: await freePort(), apiPort: await freePort() };
      instances.push({ ports, dataDir: path.join(dir, `data${i}`), child: null as unknown as ChildService });
    }
    // One after the other: the first creates the schema and activates the default model.
    for (let i = 0; i < 2; i++) (instances[i] as (typeof instances)[number]).child = await start(i);
    lbPort = await freePort();
    const servers = instances
      .map(
        (inst, i) =>
          `  server s${i} 127.0.0.1:${inst.ports.smtpPort} send-proxy check check-send-proxy inter 300 fall 1 rise 1`,
      )
      .join('\n');
    writeFileSync(
      path.join(dir, 'haproxy.cfg'),
      `global\n  maxconn 200\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 60s\n  timeout server 60s\n  retries 3\n  option redispatch\nlisten smtp\n  bind 127.0.0.1:${lbPort}\n  balance roundrobin\n${servers}\n`,
    );
    haproxy = spawn('haproxy', ['-db', '-f', path.join(dir, 'haproxy.cfg')], { stdio: 'ignore' });
    await waitForPort(lbPort, 10_000);
  }, 600_000);

  afterAll(async () => {
    haproxy?.kill('SIGTERM');
    for (const inst of instances) {
      if (inst.child && inst.child.proc.exitCode === null) {
        inst.child.proc.kill('SIGTERM');
        await inst.child.exited;
      }
    }
    await sink?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loses nothing while one instance restarts, logs every verdict with the client address, shares feedback', async () => {
    // An MTA's behaviour: a message not accepted with 250 is tried again a little later.
    const deliver = async (n: number) => {
      for (let attempt = 0; attempt < 60; attempt++) {
        const r = await send(lbPort, { from: 'a@example.org', to: ['b@example.net'] }, message(n));
        if (r.code === 250) return;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      throw new Error(`message ${n} was never accepted`);
    };
    const first = instances[0] as (typeof instances)[number];
    let n = 0;
    for (; n < TOTAL / 3; n++) await deliver(n);
    first.child.proc.kill('SIGTERM');
    const restarted = (async () => {
      await first.child.exited;
      first.child = await start(0);
    })();
    // Mail keeps flowing while instance 0 is down and starting.
    for (; n < (2 * TOTAL) / 3; n++) await deliver(n);
    await restarted;
    await new Promise((resolve) => setTimeout(resolve, 1000)); // HAProxy's check sees it up again
    for (; n < TOTAL; n++) await deliver(n);

    const subjects = new Set(
      sink.messages.map((m) => /Subject: (through haproxy \d+)/.exec(m.raw.toString())?.[1]),
    );
    for (let i = 0; i < TOTAL; i++) expect(subjects.has(`through haproxy ${i}`)).toBe(true);

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const deadline = Date.now() + 30_000;
      let rows: { subject: string; client_ip: string }[] = [];
      while (Date.now() < deadline) {
        rows = (
          await client.query("select subject, client_ip from messages where subject like 'through haproxy %'")
        ).rows;
        if (new Set(rows.map((r) => r.subject)).size >= TOTAL) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(new Set(rows.map((r) => r.subject)).size).toBe(TOTAL);
      // HAProxy's PROXY header carries the real client (this test, on loopback) to the log: the instances
      // take no session without that header (test/smtp/proxy-protocol.test.ts shows a distinct address).
      for (const r of rows) expect(r.client_ip).toMatch(/127\.0\.0\.1$/);
    } finally {
      await client.end();
    }
    // Feedback given to instance 1 reaches instance 0 (Redis announcement, periodic check as fallback).
    const api = (inst: (typeof instances)[number], p: string, init: RequestInit = {}) =>
      fetch(`http://127.0.0.1:${inst.ports.apiPort}${p}`, {
        ...init,
        headers: { authorization: `Bearer ${KEY}`, ...(init.headers ?? {}) },
      });
    const scoreAt = async (inst: (typeof instances)[number]) => {
      const r = await api(inst, '/api/v1/scan', {
        method: 'POST',
        headers: { 'content-type': 'message/rfc822' },
        body: FEEDBACK_RAW,
      });
      expect(r.status).toBe(200);
      return ((await r.json()) as { score: number }).score;
    };
    // Both served mail since instance 0 came back (round robin): each counts messages of its own.
    for (const inst of instances) {
      const text = await (await api(inst, '/metrics')).text();
      const counted = [...text.matchAll(/^mailsentra_messages_total\{[^}]*\} (\d+)/gm)].reduce(
        (sum, m) => sum + Number(m[1]),
        0,
      );
      expect(counted).toBeGreaterThan(0);
    }
    const second = instances[1] as (typeof instances)[number];
    const before = await scoreAt(first);
    const fb = await api(second, '/api/v1/feedback', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ raw: FEEDBACK_RAW, label: 'spam' }),
    });
    expect(fb.status).toBeLessThan(300);
    const deadline = Date.now() + 30_000;
    let after = before;
    while (Date.now() < deadline && after <= before) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      after = await scoreAt(first);
    }
    expect(after).toBeGreaterThan(before);
    expect(await scoreAt(second)).toBeGreaterThan(before);
  }, 900_000);
});
