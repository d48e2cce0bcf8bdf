/**
 * Start-up figures: `mailsentra serve` (the built dist/, as `npm start` runs it) from spawn until `/ready`
 * answers 200, on a fresh data directory / database (first start) and then restarted on the same one, with
 * the embedded store and with the real Postgres (DATABASE_URL, default the local one). Each start's STARTUP
 * log line says where the time went. Prints figures; never fails on them. On a shared machine the figures
 * move with the load: compare rows of one run only.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, freshDatabaseUrl, spawnService } from './harness.js';

const RESTARTS = 3;
const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

interface Start {
  readyMs: number;
  phases: Record<string, number>;
}

async function readyWithin(
  port: number,
  proc: ChildProcess,
  began: number,
  listening: () => boolean,
): Promise<number> {
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`service exited with ${proc.exitCode}`);
    // Its own LISTENING line first: a port of the shared machine may answer for another process.
    const ok =
      listening() &&
      (await fetch(`http://127.0.0.1:${port}/ready`)
        .then((r) => r.status === 200)
        .catch(() => false));
    if (ok) return performance.now() - began;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function startOnce(dataDir: string, databaseUrl: string): Promise<Start> {
  const [smtpPort, apiPort, relayPort] = [await freePort(), await freePort(), await freePort()];
  const began = performance.now();
  const proc = spawnService(
    {
      SMTP_LISTEN: `127.0.0.1:${smtpPort}`,
      API_LISTEN: `127.0.0.1:${apiPort}`,
      RELAY_TO: `127.0.0.1:${relayPort}`,
      DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: 'info',
    },
    'pipe',
  );
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise((r) => proc.once('exit', r));
  try {
    const readyMs = await readyWithin(apiPort, proc, began, () => out.includes('"LISTENING"'));
    const line = out.split('\n').find((l) => l.includes('"STARTUP"'));
    const parsed = line ? (JSON.parse(line) as Record<string, unknown>) : {};
    const phases: Record<string, number> = {};
    for (const [k, v] of Object.entries(parsed)) if (k.endsWith('Ms') && typeof v === 'number') phases[k] = v;
    return { readyMs, phases };
  } finally {
    proc.kill('SIGTERM');
    await exited;
  }
}

function row(label: string, s: Start): void {
  const detail = Object.entries(s.phases)
    .map(([k, v]) => `${k.replace(/Ms$/, '')} ${v}`)
    .join(', ');
  console.log(`${label.padEnd(30)} ready ${(s.readyMs / 1000).toFixed(2)} s   (${detail} ms)`);
}

async function series(name: string, dataDir: string, databaseUrl: string): Promise<void> {
  row(`${name}: first start`, await startOnce(dataDir, databaseUrl));
  const restarts: number[] = [];
  for (let i = 1; i <= RESTARTS; i++) {
    const s = await startOnce(dataDir, databaseUrl);
    restarts.push(s.readyMs);
    row(`${name}: restart ${i}`, s);
  }
  restarts.sort((a, b) => a - b);
  console.log(`${name}: restart median ${((restarts[1] ?? 0) / 1000).toFixed(2)} s`);
}

console.log(
  `load average ${(await import('node:os'))
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
const embeddedDir = mkdtempSync(path.join(tmpdir(), 'mailsentra-restart-'));
try {
  await series('embedded', embeddedDir, '');
} finally {
  rmSync(embeddedDir, { recursive: true, force: true });
}
const pgDir = mkdtempSync(path.join(tmpdir(), 'mailsentra-restart-'));
const db = await freshDatabaseUrl(base);
try {
  await series('postgres', pgDir, db.url);
} finally {
  await db.drop();
  rmSync(pgDir, { recursive: true, force: true });
}
