/** A private redis-server on a free port, for tests that take Redis away and bring it back. */
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';

// Ports this process has handed out. Each is free when chosen but bound only later by whatever it was chosen
// for (a Postfix service, a child process), so the kernel may offer it again meanwhile: a Postfix whose public
// smtpd and re-injection listener get one port keeps only the last master.cf entry and queues mail without
// its filter.
const handedOut = new Set<number>();

/** A port free on 127.0.0.1 now, never one this process handed out before. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await unboundPort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function unboundPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function waitForPort(port: number, up: boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (open === up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} did not become ${up ? 'open' : 'closed'}`);
}

export class PrivateRedis {
  private child: ChildProcess | null = null;
  constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort());
    await r.up();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    this.child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    await waitForPort(this.port, true);
  }

  async down(): Promise<void> {
    this.child?.kill('SIGKILL');
    this.child = null;
    await waitForPort(this.port, false);
  }
}
