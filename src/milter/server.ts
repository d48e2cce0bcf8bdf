/**
 * The milter listener (`milter.listen`: host:port or a unix socket path) over node:net. Each connection
 * gets its own session; a protocol error or a vanished MTA ends that connection only.
 */
import { chmod, lstat, unlink } from 'node:fs/promises';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { parseHostPort } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/log.js';
import type { Listener } from '../pipeline/transport.js';
import { MilterProtocolError, PacketReader } from './protocol.js';
import { createSession, type ProcessMessage } from './session.js';

export function createMilterServer(deps: {
  config: Config;
  logger: Logger;
  process: ProcessMessage;
}): Listener {
  const { config, logger } = deps;
  const listenOn = config.milter.listen;
  const connections = new Map<Socket, { busy: boolean }>();
  let counter = 0;

  const server = createServer((socket) => {
    const id = `m${(++counter).toString(36)}`;
    // Made on first use: most connections log nothing of their own, and a child logger costs its bindings.
    let connectionLog: Logger | null = null;
    const log = () => (connectionLog ??= logger.child({ milterConnection: id }));
    const reader = new PacketReader();
    let chain = Promise.resolve();
    let deciding = false;
    const session = createSession(id, {
      config,
      logger,
      process: deps.process,
      // A unix socket's peer has no address.
      overTcp: socket.remoteAddress !== undefined,
      send(data) {
        if (!socket.destroyed && socket.writable) socket.write(data);
      },
      end() {
        socket.end();
      },
    });
    const state = {
      get busy() {
        return deciding || session.busy;
      },
    };
    connections.set(socket, state);
    socket.setNoDelay(true);
    socket.setTimeout(config.milter.idleTimeoutMs, () => {
      if (deciding) return;
      log().info({ event: 'MILTER_IDLE' }, 'milter connection idle, closing');
      socket.destroy();
    });
    const fail = (err: unknown) => {
      if (err instanceof MilterProtocolError) {
        log().warn(
          { event: 'MILTER_PROTOCOL_ERROR', err: err.message },
          'protocol error, closing this connection',
        );
      } else {
        log().error({ event: 'MILTER_FAILED', err: (err as Error).message }, 'milter connection failed');
      }
      socket.destroy();
    };
    socket.on('data', (chunk: Buffer) => {
      let packets: ReturnType<PacketReader['push']>;
      try {
        packets = reader.push(chunk);
      } catch (err) {
        fail(err);
        return;
      }
      for (const p of packets) {
        chain = chain
          .then(async () => {
            if (socket.destroyed) return;
            deciding = true;
            try {
              await session.handle(p);
            } finally {
              deciding = false;
            }
          })
          .catch(fail);
      }
    });
    socket.on('error', (err) =>
      log().debug({ event: 'MILTER_SOCKET_ERROR', err: err.message }, 'socket error'),
    );
    socket.on('close', () => connections.delete(socket));
  });
  // A failed bind is the caller's to report (a stale socket is retried, a refusal stops the start).
  let binding = false;
  server.on('error', (err) => {
    if (!binding) logger.warn({ event: 'MILTER_SERVER_ERROR', err: err.message }, 'milter server error');
  });

  /**
   * A socket file left by a process that died keeps listen() from binding. It is removed only when nothing
   * answers on it (a live MailSentra, or a cluster sibling sharing it, keeps its socket) and it is a socket.
   */
  async function removeStaleSocket(path: string): Promise<void> {
    const st = await lstat(path).catch(() => null);
    if (!st?.isSocket()) return;
    const alive = await new Promise<boolean>((resolve) => {
      const probe = connect({ path }, () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (!alive) await unlink(path);
  }

  function bind(): Promise<void> {
    binding = true;
    return new Promise<void>((resolve, reject) => {
      const failed = (err: Error) => {
        binding = false;
        reject(err);
      };
      server.once('error', failed);
      const done = () => {
        binding = false;
        server.removeListener('error', failed);
        resolve();
      };
      if (listenOn?.startsWith('/')) server.listen(listenOn, done);
      else {
        const { host, port } = parseHostPort(listenOn as string);
        server.listen(port, host, done);
      }
    });
  }

  return {
    get openConnections() {
      return connections.size;
    },
    async listen() {
      if (listenOn === null) throw new Error('milter.listen is not set');
      const unix = listenOn.startsWith('/');
      try {
        await bind();
      } catch (err) {
        if (!unix || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        await removeStaleSocket(listenOn);
        await bind();
      }
      // The socket is made with the process's umask; the MTA (another user) needs write permission on it.
      if (unix) await chmod(listenOn, Number.parseInt(config.milter.socketMode, 8));
      logger.info({ event: 'MILTER_LISTENING', listen: listenOn }, 'milter listening');
      return unix ? 0 : (server.address() as AddressInfo).port;
    },
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const deadline = Date.now() + graceMs;
      while ([...connections.values()].some((c) => c.busy) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const socket of connections.keys()) socket.destroy();
      await closed;
    },
  };
}
