import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildService, startChildService } from '../helpers/child-service.js';
import { freshDatabaseUrl } from '../helpers/db.js';
import { freePort } from '../helpers/free-port.js';
import { type Sink, startSink } from '../helpers/sink.js';
import { send } from '../helpers/smtp-client.js';

function configWith(yaml: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'mailsentra-shutdown-')), 'mailsentra.yaml');
  writeFileSync(file, yaml);
  return file;
}

describe('SIGTERM', () => {
  let sink: Sink;
  let db: { url: string; drop(): Promise<void> } | null = null;
  let child: ChildService | null = null;
  beforeAll(async () => {
    db = process.env.DATABASE_URL ? await freshDatabaseUrl() : null;
    // The next hop takes a while to answer, so the message is still in flight when the signal arrives.
    sink = await startSink({ kind: 'stall-ms', ms: 1500 });
  });
  afterAll(async () => {
    // Whatever happened in the test, no service outlives it.
    if (child && child.proc.exitCode === null) child.proc.kill('SIGKILL');
    await sink.close();
    await db?.drop();
  });

  it('stops accepting, lets the message in flight finish with 250, and exits 0', async () => {
    const smtpPort = await freePort();
    const apiPort = await freePort();
    child = await startChildService({
      smtpPort,
      apiPort,
      relayPort: sink.port,
      databaseUrl: db?.url ?? null,
    });
    const { proc, exited } = child;

    const inFlight = send(
      smtpPort,
      { from: 'a@example.org', to: ['b@example.net'] },
      'Subject: hi\r\n\r\nlunch?\r\n',
    );
    // Signal only once the message is really in flight (its bytes are at the stalling next hop): a
    // connection still in the listen backlog at SIGTERM is refused, which the client retries, and is not
    // what this test is about.
    while (sink.receiving === 0) await new Promise((r) => setTimeout(r, 20));
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
    expect(child.output()).toContain('"event":"SHUTDOWN"');
    expect(child.output()).toContain('"event":"STOPPED"');
  }, 120_000);

  it('past the grace, answers the message being decided (no 421 for mail that goes on) and records it', async () => {
    sink.behaviour = { kind: 'stall-ms', ms: 7000 }; // past the grace and what smtp-server waited after it
    sink.messages.length = 0;
    const receiving = sink.receiving;
    const smtpPort = await freePort();
    child = await startChildService({
      smtpPort,
      apiPort: await freePort(),
      relayPort: sink.port,
      databaseUrl: db?.url ?? null,
      env: { MAILSENTRA_CONFIG: configWith('shutdownGraceMs: 1000\n') },
    });
    const { proc, exited } = child;
    // An idle session, open before the signal: it gets 421 at the end of the grace.
    const idle = net.connect(smtpPort, '127.0.0.1');
    let idleText = '';
    idle.on('data', (d) => {
      idleText += d.toString();
    });
    idle.on('error', () => {});
    const inFlight = send(
      smtpPort,
      { from: 'a@example.org', to: ['b@example.net'] },
      'Subject: late\r\n\r\nlate\r\n',
    );
    while (sink.receiving === receiving) await new Promise((r) => setTimeout(r, 20));
    proc.kill('SIGTERM');
    expect((await inFlight).code).toBe(250);
    expect(await exited).toBe(0);
    expect(idleText).toMatch(/^220 [\s\S]*\r\n421 /);
    expect(sink.messages).toHaveLength(1);
    const id = /X-MailSentra-Id: (\S+)/.exec(sink.messages[0]!.raw.toString('latin1'))?.[1];
    expect(child.output()).toContain(`"messageId":"${id}"`);
    expect(child.output()).not.toContain('LOG_BUFFER_FULL');
    if (db) {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      const rows = (await client.query('select status from messages where id = $1', [id])).rows;
      await client.end();
      expect(rows).toEqual([{ status: 'delivered' }]);
    }
  }, 120_000);
});
