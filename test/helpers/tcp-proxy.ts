/**
 * A TCP proxy a test can cut and restore, or freeze and thaw, to take a real server (Postgres) away from the
 * service under test and give it back, without stopping the server every other test uses. Cut: the server
 * refuses (connections drop). Frozen: it stops answering (connections stay open, nothing moves), as a
 * server that hangs, or a network that drops packets, looks.
 */
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Drops every open connection and refuses new ones until `restore`. */
  cut(): void;
  restore(): void;
  /** Stops moving bytes either way, on open connections and new ones, until `thaw`. */
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let down = false;
  let frozen = false;
  const open = new Set<net.Socket>();
  const pairs = new Set<[net.Socket, net.Socket]>();
  const waiting: net.Socket[] = [];
  const flow = (client: net.Socket, upstream: net.Socket) => {
    client.pipe(upstream);
    upstream.pipe(client);
  };
  const connect = (client: net.Socket) => {
    const upstream = net.connect(target.port, target.host);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    for (const s of pair) {
      open.add(s);
      s.on('close', () => {
        open.delete(s);
        pairs.delete(pair);
      });
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    flow(client, upstream);
  };
  const server = net.createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    if (frozen) {
      client.pause();
      open.add(client);
      client.on('close', () => open.delete(client));
      waiting.push(client);
      return;
    }
    connect(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      down = true;
      for (const s of open) s.destroy();
    },
    restore() {
      down = false;
    },
    freeze() {
      frozen = true;
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    thaw() {
      frozen = false;
      for (const [client, upstream] of pairs) flow(client, upstream);
      for (const client of waiting.splice(0)) if (!client.destroyed) connect(client);
    },
    close() {
      for (const s of open) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
