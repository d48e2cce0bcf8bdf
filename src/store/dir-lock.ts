/**
 * One writer per embedded data directory. Two embedded Postgres (PGlite) instances on one directory do not
 * see each other's writes and can corrupt it, so whoever opens the embedded store first holds
 * `<dir>/mailsentra.lock` until it closes the store.
 *
 * Why a lock file taken with O_EXCL and not flock(2): Node has no flock in core, the npm packages that add it
 * are native add-ons (a compiler at `npm ci`), and the pure-JS lock packages (proper-lockfile) decide
 * staleness by the file's age, which means either a crashed holder blocks start-up for a while or a slow
 * holder loses its lock. Creating the file with O_EXCL is atomic on every local file system; the file holds
 * the holder's pid and the start time of that process (/proc/<pid>/stat, field 22), so a holder that died
 * (SIGKILL, power loss) is recognised at once, and a recycled pid is not taken for the old holder. Where the
 * pid cannot be checked (a lock written from another pid namespace: another container on a shared volume),
 * the holder is alive only if something listens on its control socket (the kernel closes a dead process's
 * listening socket); otherwise the lock is taken as held and the error names the file to remove.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, readlinkSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import net from 'node:net';
import { hostname } from 'node:os';
import path from 'node:path';
import { CliError } from '../errors.js';

export const LOCK_FILE = 'mailsentra.lock';
export const CONTROL_SOCKET = 'mailsentra.sock';

export interface LockHolder {
  pid: number;
  /** Clock ticks after boot when the process started (Linux), null where /proc is missing. */
  startTime: string | null;
  /** Kernel boot id and pid namespace: a pid means something only within both. */
  bootId: string | null;
  pidNs: string | null;
  host: string;
  /** What holds it (`serve`, `apikey create`, …), for the refusal message. */
  command: string;
  since: string;
  /** Tells this holding apart from a later one by the same pid (see breakStale). */
  nonce: string;
}

export interface DirLock {
  file: string;
  holder: LockHolder;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void;
}

function readOr(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Field 22 of /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses, so the fields
 * are counted from the last ')'. */
export function processStartTime(pid: number): string | null {
  const stat = readOr(`/proc/${pid}/stat`);
  if (stat === null) return null;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null;
}

function pidNamespace(): string | null {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return null;
  }
}

function currentHolder(command: string): LockHolder {
  return {
    pid: process.pid,
    startTime: processStartTime(process.pid),
    bootId: readOr('/proc/sys/kernel/random/boot_id')?.trim() ?? null,
    pidNs: pidNamespace(),
    host: hostname(),
    command,
    since: new Date().toISOString(),
    nonce: randomBytes(8).toString('hex'),
  };
}

export function readLockHolder(dir: string): LockHolder | null {
  const text = readOr(path.join(dir, LOCK_FILE));
  if (text === null) return null;
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>;
    if (typeof parsed.pid !== 'number' || typeof parsed.nonce !== 'string') return null;
    return parsed as LockHolder;
  } catch {
    return null;
  }
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when something accepts connections on the socket (a live holder); false when nothing does. */
export function socketAnswers(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    const timer = setTimeout(() => {
      s.destroy();
      resolve(true); // accepted the connection attempt but slow: something is there
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/** Whether the process that wrote `holder` still runs. */
export async function holderAlive(holder: LockHolder, dir: string): Promise<boolean> {
  const me = currentHolder('');
  const samePidSpace =
    holder.bootId !== null &&
    holder.bootId === me.bootId &&
    holder.pidNs === me.pidNs &&
    holder.pidNs !== null;
  if (samePidSpace || (holder.bootId === null && me.bootId === null && holder.host === me.host)) {
    if (!pidExists(holder.pid)) return false;
    // A pid recycled for another process (or this one, after a container restart) is not the holder.
    if (holder.startTime !== null && processStartTime(holder.pid) !== holder.startTime) return false;
    return true;
  }
  return socketAnswers(path.join(dir, CONTROL_SOCKET));
}

/**
 * Removes a stale lock without removing a fresh one that another starter put there in the meantime: the
 * file is first renamed aside (atomic), and if what was moved is not the stale holding read before, it is
 * linked back.
 */
function breakStale(file: string, stale: LockHolder): void {
  const aside = `${file}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    renameSync(file, aside);
  } catch {
    return; // someone else broke it first
  }
  const moved = readOr(aside);
  let ours = false;
  try {
    ours = moved !== null && (JSON.parse(moved) as LockHolder).nonce === stale.nonce;
  } catch {
    ours = true; // unreadable: what we judged stale was unreadable too
  }
  if (!ours) {
    try {
      renameSync(aside, file);
    } catch {
      // Nothing better to do: the next starter judges it again.
    }
    return;
  }
  unlinkSync(aside);
}

function describe(holder: LockHolder): string {
  return `pid ${holder.pid}${holder.host && holder.host !== hostname() ? ` on ${holder.host}` : ''} (mailsentra ${holder.command}, since ${holder.since})`;
}

/**
 * Takes the lock on `dir` (created if missing) for `command`, or throws DATA_DIR_LOCKED naming the holder.
 * A lock left by a process that no longer runs is taken over.
 */
export async function acquireDirLock(dir: string, command: string): Promise<DirLock> {
  const file = path.join(dir, LOCK_FILE);
  const holder = currentHolder(command);
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const other = readLockHolder(dir);
      if (other === null) {
        // Half-written by a starter that is writing it now, or garbage left by a crash mid-write.
        await new Promise((r) => setTimeout(r, 50));
        const again = readLockHolder(dir);
        if (again === null) breakStale(file, { nonce: '' } as LockHolder);
        continue;
      }
      if (await holderAlive(other, dir)) throw dataDirLocked(dir, other);
      breakStale(file, other);
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(holder));
    } finally {
      closeSync(fd);
    }
    let released = false;
    return {
      file,
      holder,
      release() {
        if (released) return;
        released = true;
        if (readLockHolder(dir)?.nonce === holder.nonce) {
          try {
            unlinkSync(file);
          } catch {
            // Already gone.
          }
        }
      },
    };
  }
  const other = readLockHolder(dir);
  throw other ? dataDirLocked(dir, other) : new Error(`${file}: could not take the lock`);
}

export function dataDirLocked(dir: string, holder: LockHolder): CliError {
  return new CliError(
    'DATA_DIR_LOCKED',
    75,
    `the embedded database in ${dir} is in use by ${describe(holder)}; stop it first, or use its API (if that is wrong, remove ${path.join(dir, LOCK_FILE)})`,
  );
}
