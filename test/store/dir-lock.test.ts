/**
 * The embedded data directory lock (src/store/dir-lock.ts) with real processes: a live holder refuses a
 * second opener, a holder killed with SIGKILL or a recycled pid does not.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliError } from '../../src/errors.js';
import { acquireDirLock, LOCK_FILE, processStartTime, readLockHolder } from '../../src/store/dir-lock.js';

const dir = () => mkdtempSync(path.join(tmpdir(), 'mailsentra-lock-'));

async function refusal(d: string): Promise<unknown> {
  try {
    (await acquireDirLock(d, 'test')).release();
  } catch (err) {
    return err;
  }
  return null;
}

describe('data directory lock', () => {
  it('refuses a second holder while the first holds it, and is free again after release', async () => {
    const d = dir();
    const lock = await acquireDirLock(d, 'serve');
    expect(readLockHolder(d)?.pid).toBe(process.pid);
    const err = await refusal(d);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).code).toBe('DATA_DIR_LOCKED');
    expect((err as CliError).message).toContain(`pid ${process.pid}`);
    expect((err as CliError).message).not.toContain('\n');
    lock.release();
    expect(existsSync(path.join(d, LOCK_FILE))).toBe(false);
    expect(await refusal(d)).toBeNull();
  });

  it('is refused while another live process holds it, and taken over once it was SIGKILLed', async () => {
    const d = dir();
    // A real holder in another process: takes the lock, says so, then sleeps until killed.
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `import('${path.resolve('src/store/dir-lock.ts')}').then(async (m) => { await m.acquireDirLock(${JSON.stringify(d)}, 'serve'); console.log('held'); setInterval(() => {}, 1000); })`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    expect(readLockHolder(d)?.pid).toBe(child.pid);
    expect(((await refusal(d)) as CliError).code).toBe('DATA_DIR_LOCKED');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // The file is still there: only the holder's death tells it is stale.
    expect(existsSync(path.join(d, LOCK_FILE))).toBe(true);
    const lock = await acquireDirLock(d, 'serve');
    expect(readLockHolder(d)?.nonce).toBe(lock.holder.nonce);
    lock.release();
  });

  it('does not take a recycled pid for the holder that wrote the lock', async () => {
    const d = dir();
    // This very (live) pid, but a start time that is not this process's: the holder is gone.
    const stale = {
      ...JSON.parse(JSON.stringify((await acquireDirLock(d, 'serve')).holder)),
      startTime: String(Number(processStartTime(process.pid)) - 1000),
      nonce: 'old',
    };
    writeFileSync(path.join(d, LOCK_FILE), JSON.stringify(stale));
    const lock = await acquireDirLock(d, 'serve');
    expect(JSON.parse(readFileSync(path.join(d, LOCK_FILE), 'utf8')).nonce).toBe(lock.holder.nonce);
    lock.release();
  });

  it('takes over an empty lock file left by a crash between create and write', async () => {
    const d = dir();
    writeFileSync(path.join(d, LOCK_FILE), '');
    (await acquireDirLock(d, 'serve')).release();
  });
});
