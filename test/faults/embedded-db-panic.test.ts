/**
 * The embedded database after a PANIC. Postgres PANICs when it cannot create a WAL file (a full disk); a
 * server then restarts its backends through crash recovery, but PGlite is the one backend and has nothing to
 * restart it: its next query never answers and its thread spins, so spam would wait on a quarantine write
 * that never comes and /ready would never answer. The service must fail what needs the database at once
 * (451, /ready 503), say so once, and let `serve` stop, so that a restart recovers the database. A real full disk: a small
 * tmpfs (mounting needs root, as CI runs; it never skips).
 */
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUntilStopped } from '../../src/commands/serve.js';
import { withTimeout } from '../../src/util/timeout.js';
import { runCliChild } from '../helpers/cli.js';
import { postfixSamples } from '../helpers/postfix.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { send } from '../helpers/smtp-client.js';

const within = <T>(ms: number, what: string, p: Promise<T>) =>
  withTimeout(p, ms, () => new Error(`${what}: no answer in ${ms} ms`));

const freeMb = (dir: string) =>
  Number(execFileSync('df', ['-B1M', '--output=avail', dir]).toString().trim().split('\n').pop());

describe('the embedded database on a disk that fills up', () => {
  const mount = mkdtempSync(path.join(tmpdir(), 'mailsentra-full-disk-'));
  let service: TestService | null = null;

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('mounting a small tmpfs needs root (CI runs as root)');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mount]);
    service = await startTestService({
      pglite: path.join(mount, 'pglite'),
      config: { database: { url: null } },
    });
  }, 60_000);

  afterAll(async () => {
    await service?.stop();
    execFileSync('umount', ['-l', mount]);
    rmSync(mount, { recursive: true, force: true });
  });

  it('stops the database after a PANIC and fails fast instead of waiting on it forever', async () => {
    if (!service) throw new Error('the service starts in beforeAll');
    const { app, apiPort, smtpPort } = service;
    await sql`create table before_panic as select 'committed' as note`.execute(app.storage.db);
    // The disk fills while the current WAL file still has room; the next WAL file (16 MB) cannot be made.
    execFileSync('fallocate', ['-l', `${freeMb(mount) - 8}M`, path.join(mount, 'filler')]);
    await sql`select pg_switch_wal()`.execute(app.storage.db);
    await expect(sql`create table panic_probe (x int)`.execute(app.storage.db)).rejects.toMatchObject({
      severity: 'PANIC',
      code: '53100',
    });

    const reason = await within(5000, 'the failure', app.failed);
    expect(reason).toMatchObject({ code: 'EMBEDDED_DB_STOPPED' });
    expect(reason.message).toMatch(/PANIC: could not write to file "pg_wal\/xlogtemp\.\d+": No space left/);

    // What needs the database fails at once: a query, readiness, and spam that must be quarantined.
    await expect(within(2000, 'a query', sql`select 1`.execute(app.storage.db))).rejects.toMatchObject({
      code: 'EMBEDDED_DB_STOPPED',
    });
    const ready = await within(2000, '/ready', fetch(`http://127.0.0.1:${apiPort}/ready`));
    expect(ready.status).toBe(503);
    const spam = await within(
      10_000,
      'spam',
      send(smtpPort, { from: 'spammer@example.com', to: ['carol@example.net'] }, postfixSamples().spam),
    );
    expect(spam.code, spam.response).toBe(451);
    // `serve` stops (the log's last rows cannot be written; it does not wait for them) with EX_TEMPFAIL.
    const stopping = service;
    service = null;
    expect(await within(15_000, 'serve to stop', runUntilStopped(app, new EventEmitter()))).toBe(75);
    await stopping.sink.close();
  }, 60_000);

  it('names the full disk at the next start and exits, then recovers once there is room', async () => {
    const serve = () =>
      runCliChild(
        ['serve'],
        { DATA_DIR: mount, DATABASE_URL: '', SMTP_LISTEN: '127.0.0.1:0', API_LISTEN: '127.0.0.1:0' },
        { timeoutMs: 60_000 },
      );
    // PGlite only says it "failed to initialize"; its thread kept the process alive after the line.
    const refused = await serve();
    expect(refused.stderr).toMatch(
      /^mailsentra: the embedded database in \S+ cannot start: its filesystem has \d+ MB free \(it needs room for its WAL\); free space and start again\n$/,
    );
    expect(refused.code).toBe(75);

    rmSync(path.join(mount, 'filler'));
    service = await startTestService({
      pglite: path.join(mount, 'pglite'),
      config: { database: { url: null } },
    });
    // Recovered from its WAL: what committed before the PANIC is there, the statement that PANICked is not.
    const { db } = service.app.storage;
    const { rows } = await sql<{ t: string | null }>`select to_regclass('panic_probe')::text as t`.execute(
      db,
    );
    expect(rows[0]?.t).toBeNull();
    const before = await sql<{ note: string }>`select note from before_panic`.execute(db);
    expect(before.rows).toEqual([{ note: 'committed' }]);
    expect((await fetch(`http://127.0.0.1:${service.apiPort}/ready`)).status).toBe(200);
  }, 120_000);
});
