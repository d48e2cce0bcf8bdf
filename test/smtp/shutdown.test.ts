import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabaseUrl } from '../helpers/db.js';
import { freePort } from '../helpers/redis.js';
import { type Sink, startSink } from '../helpers/sink.js';
import { send } from '../helpers/smtp-client.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

async function waitForPort(port: number): Promise<void> {
  // Generous: under CI's parallel load the child compiles TypeScript and opens its database first.
  for (let i = 0; i < 1200; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('service did not start');
}

describe('SIGTERM', () => {
  let sink: Sink;
  let db: { url: string; drop(): Promise<void> } | null = null;
  let child: ReturnType<typeof spawn> | null = null;
  beforeAll(async () => {
    db = process.env.DATABASE_URL ? await freshDatabaseUrl() : null;
    // The next hop takes a while to answer, so the message is still in flight when the signal arrives.
    sink = await startSink({ kind: 'stall-ms', ms: 1500 });
  });
  afterAll(async () => {
    // Whatever happened in the test, no service outlives it.
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await sink.close();
    await db?.drop();
  });

  it('stops accepting, lets the message in flight finish with 250, and exits 0', async () => {
    const smtpPort = await freePort();
    const apiPort = await freePort();
    const proc = spawn(
      process.execPath,
      [
        '--import',
        pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href,
        path.join(root, 'src/cli.ts'),
        'serve',
      ],
      {
        env: {
          ...process.env,
          SMTP_LISTEN: `127.0.0.1:${smtpPort}`,
          API_LISTEN: `127.0.0.1:${apiPort}`,
          RELAY_TO: `127.0.0.1:${sink.port}`,
          DATA_DIR: mkdtempSync(path.join(tmpdir(), 'mailsentra-sigterm-')),
          DATABASE_URL: db?.url ?? '',
          REDIS_URL: '',
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    child = proc;
    let log = '';
    proc.stdout.on('data', (d: Buffer) => {
      log += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    await waitForPort(smtpPort);

    const inFlight = send(
      smtpPort,
      { from: 'a@example.org', to: ['b@example.net'] },
      'Subject: hi\r\n\r\nlunch?\r\n',
    );
    await new Promise((r) => setTimeout(r, 500));
    proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    // No new sessions once stopping.
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(smtpPort, '127.0.0.1', () => {
        s.destroy();
        resolve(false);
      });
      s.on('error', () => resolve(true));
    });

    expect((await inFlight).code).toBe(250);
    expect(await exited).toBe(0);
    expect(refused).toBe(true);
    expect(sink.messages).toHaveLength(1);
    expect(log).toContain('"event":"SHUTDOWN"');
    expect(log).toContain('"event":"STOPPED"');
  }, 120_000);
});
