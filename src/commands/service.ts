/**
 * One-shot commands beside a running service on the embedded store. Only one process may open the embedded
 * database (store/dir-lock.ts); when a `serve` holds it, the commands that write to it go through that
 * service's control socket instead (control/server.ts), so what they write is what the service sees.
 */
import path from 'node:path';
import type { CommandContext } from '../cli.js';
import type { Config } from '../config/schema.js';
import { type ControlClient, connectControl } from '../control/client.js';
import { controlSocketPath } from '../control/protocol.js';
import { dataDirLocked, holderAlive, readLockHolder } from '../store/dir-lock.js';

/** How long a command waits for a service that holds the store but is still starting (first start stores the
 * default model: tens of seconds on a slow machine). */
const STARTING_WAIT_MS = 90_000;

/**
 * The running service's control channel when a service holds the embedded store; null when the command
 * should open the store itself (Postgres, or nobody holds the directory). Throws DATA_DIR_LOCKED when another
 * command holds it.
 */
export async function runningService(config: Config, ctx: CommandContext): Promise<ControlClient | null> {
  if (config.database.url !== null) return null;
  const dir = path.resolve(config.dataDir);
  const socket = controlSocketPath(dir);
  const deadline = Date.now() + STARTING_WAIT_MS;
  let told = false;
  for (;;) {
    const client = await connectControl(socket);
    if (client) return client;
    const holder = readLockHolder(dir);
    if (holder === null || !(await holderAlive(holder, dir))) return null;
    if (!holder.command.startsWith('serve') || Date.now() > deadline) throw dataDirLocked(dir, holder);
    if (!told) {
      ctx.stderr.write(`mailsentra: waiting for the service (pid ${holder.pid}) to finish starting…\n`);
      told = true;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
