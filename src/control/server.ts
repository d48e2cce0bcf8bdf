/**
 * The control socket a running `serve` opens beside its embedded store, so `apikey create`, `migrate` and
 * `train` work while the service holds the store (only one process may open it: see store/dir-lock.ts).
 * Access is the file system's: the socket is mode 0600 in a directory no one else may write to, so only the
 * service's own user (and root) can connect, as only they could open the database files themselves.
 */
import { chmodSync, statSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from '../observability/log.js';
import type { Db } from '../store/db.js';
import { migrate } from '../store/db.js';
import { createAuditedKey } from '../store/keys.js';
import type { Storage } from '../store/types.js';
import type { ControlLine, ControlOp, ControlOps, ControlRequest } from './protocol.js';

export interface ControlDeps {
  socketPath: string;
  logger: Logger;
  storage: Storage & { db: Db };
  /** Readies a stored version and makes it the model in force here (and announces it). */
  activate(version: string): Promise<void>;
  /** Writes the model in force to the file mirror, if it does not hold it already. */
  refreshMirror(): Promise<{ version: string }>;
}

export interface ControlServer {
  close(): Promise<void>;
}

type Handler<K extends ControlOp> = (
  args: ControlOps[K]['args'],
  conn: { item(value: unknown): void; onClose(fn: () => void): void },
) => Promise<ControlOps[K]['result']>;

/** Why the directory is unsafe for a socket, or null: others able to write to it could swap the socket. */
export function unsafeDirectory(dir: string): string | null {
  const st = statSync(dir);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid() && st.uid !== 0)
    return `${dir} belongs to another user (uid ${st.uid})`;
  if ((st.mode & 0o022) !== 0)
    return `${dir} is writable by group or others (mode ${(st.mode & 0o777).toString(8)})`;
  return null;
}

function handlers(deps: ControlDeps): { [K in ControlOp]: Handler<K> } {
  const { storage } = deps;
  return {
    async 'apikey.create'({ role, label }) {
      return { key: (await createAuditedKey(storage, role, label, 'cli')).key };
    },
    async migrate() {
      return { applied: await migrate(storage.db) };
    },
    async 'train.lock'(_args, conn) {
      return new Promise((resolve, reject) => {
        storage.models
          .withTrainingLock(
            () =>
              new Promise<void>((release) => {
                resolve({ locked: true });
                conn.onClose(release);
              }),
          )
          .then((held) => {
            if (held === null) resolve({ locked: false });
          }, reject);
      });
    },
    async 'feedback.forTraining'({ until, limit }, conn) {
      let count = 0;
      for await (const f of storage.feedback.forTraining(new Date(until), limit)) {
        conn.item({ raw: Buffer.from(f.raw).toString('base64'), label: f.label, authSignals: f.authSignals });
        count++;
      }
      return { count };
    },
    async 'models.storeAndActivate'(args) {
      await storage.models.save({
        version: args.version,
        trainingSet: args.trainingSet,
        evaluation: args.evaluation,
        artefact: Buffer.from(args.artefact, 'base64'),
        createdAt: new Date(args.createdAt),
      });
      await deps.activate(args.version);
      await storage.audit.write({
        actor: 'cli',
        action: 'model.activate',
        target: args.version,
        details: {},
      });
      return { version: args.version };
    },
    'model.mirror': () => deps.refreshMirror(),
  };
}

function isRequest(value: unknown): value is ControlRequest {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { op?: unknown }).op === 'string' &&
    typeof (value as { args?: unknown }).args === 'object'
  );
}

/** Longest unix socket path Linux takes (sun_path is 108 bytes with its terminating NUL). */
const MAX_SOCKET_PATH = 107;

/**
 * Opens the control socket, or logs CONTROL_DISABLED and returns null when it cannot be opened safely: the
 * service runs on without it, and the commands that need the store refuse with one line instead.
 */
export async function startControlServer(deps: ControlDeps): Promise<ControlServer | null> {
  const dir = path.dirname(deps.socketPath);
  const reason =
    unsafeDirectory(dir) ??
    (Buffer.byteLength(deps.socketPath) > MAX_SOCKET_PATH
      ? `the socket path is longer than ${MAX_SOCKET_PATH} bytes (use a shorter DATA_DIR)`
      : null);
  if (reason) {
    deps.logger.warn({ event: 'CONTROL_DISABLED', reason }, 'no control socket');
    return null;
  }
  try {
    return await listenControl(deps);
  } catch (err) {
    deps.logger.warn({ event: 'CONTROL_DISABLED', reason: String(err) }, 'no control socket');
    return null;
  }
}

async function listenControl(deps: ControlDeps): Promise<ControlServer> {
  const table = handlers(deps);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const closers: (() => void)[] = [];
    socket.once('close', () => {
      sockets.delete(socket);
      for (const c of closers) c();
    });
    socket.on('error', () => socket.destroy());
    const send = (line: ControlLine) => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(line)}\n`);
    };
    const lines = createInterface({ input: socket, crlfDelay: Number.POSITIVE_INFINITY });
    // One request at a time: the next line is read only when this one is answered.
    (async () => {
      for await (const text of lines) {
        let request: unknown;
        try {
          request = JSON.parse(text);
        } catch {
          request = null;
        }
        if (!isRequest(request) || !(request.op in table)) {
          send({ ok: false, error: 'BAD_REQUEST', message: 'unknown control request' });
          continue;
        }
        const handler = table[request.op] as Handler<ControlOp>;
        try {
          const result = await handler(request.args, {
            item: (value) => send({ item: value }),
            onClose: (fn) => closers.push(fn),
          });
          send({ ok: true, result });
        } catch (err) {
          deps.logger.error({ event: 'CONTROL_FAILED', op: request.op, err }, 'control request failed');
          send({ ok: false, error: 'FAILED', message: err instanceof Error ? err.message : String(err) });
        }
      }
    })().catch(() => socket.destroy());
  });

  // A socket file left by a holder that died (the data directory lock already proved it dead).
  try {
    unlinkSync(deps.socketPath);
  } catch {
    // none
  }
  // Created with no access for group and others from the start (the umask applies to bind), then checked.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(deps.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(umask);
  }
  chmodSync(deps.socketPath, 0o600);
  deps.logger.info({ event: 'CONTROL_LISTENING', socket: deps.socketPath }, 'control socket open');
  return {
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      try {
        unlinkSync(deps.socketPath);
      } catch {
        // gone already
      }
    },
  };
}
