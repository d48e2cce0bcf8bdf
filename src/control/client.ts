/** The command-line side of the control socket (see server.ts): one request at a time, answers in order. */
import net from 'node:net';
import { createInterface } from 'node:readline';
import type { ControlLine, ControlOp, ControlOps } from './protocol.js';

export interface ControlClient {
  call<K extends ControlOp>(
    op: K,
    args: ControlOps[K]['args'],
    onItem?: (item: unknown) => void,
  ): Promise<ControlOps[K]['result']>;
  close(): void;
}

export class ControlCallError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ControlCallError';
  }
}

/** Connects to a running service's control socket; null when none listens there. */
export async function connectControl(socketPath: string): Promise<ControlClient | null> {
  const socket = await new Promise<net.Socket | null>((resolve) => {
    const s = net.connect(socketPath);
    s.once('connect', () => {
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', () => resolve(null));
  });
  if (!socket) return null;

  const waiting: ((line: ControlLine | null) => void)[] = [];
  const queued: (ControlLine | null)[] = [];
  const deliver = (line: ControlLine | null) => {
    const next = waiting.shift();
    if (next) next(line);
    else queued.push(line);
  };
  const lines = createInterface({ input: socket, crlfDelay: Number.POSITIVE_INFINITY });
  lines.on('line', (text) => {
    try {
      deliver(JSON.parse(text) as ControlLine);
    } catch {
      deliver({ ok: false, error: 'BAD_ANSWER', message: 'the service sent an unreadable answer' });
    }
  });
  lines.on('close', () => deliver(null));
  socket.on('error', () => socket.destroy());
  const nextLine = () =>
    new Promise<ControlLine | null>((resolve) => {
      if (queued.length > 0) resolve(queued.shift() ?? null);
      else waiting.push(resolve);
    });

  let busy: Promise<unknown> = Promise.resolve();
  return {
    call(op, args, onItem) {
      const run = async () => {
        socket.write(`${JSON.stringify({ op, args })}\n`);
        for (;;) {
          const line = await nextLine();
          if (line === null)
            throw new ControlCallError('CONTROL_CLOSED', 'the service closed the control connection');
          if ('item' in line) onItem?.(line.item);
          else if (line.ok) return line.result as ControlOps[typeof op]['result'];
          else throw new ControlCallError(line.error, line.message);
        }
      };
      const result = busy.then(run, run);
      busy = result.catch(() => undefined);
      return result;
    },
    close() {
      socket.end();
      socket.destroy();
    },
  };
}
