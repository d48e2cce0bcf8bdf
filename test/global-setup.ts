/**
 * Runs once before all test files. When `MAILSENTRA_REQUIRE_SERVICES=1` (set by .ci/run), the real Postgres
 * and Redis must be reachable: service-backed tests must run, not skip.
 */
import net from 'node:net';

function reachable(url: string): Promise<boolean> {
  const u = new URL(url);
  const port = Number(u.port || (u.protocol.startsWith('redis') ? 6379 : 5432));
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname || '127.0.0.1', port });
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export default async function setup(): Promise<void> {
  if (process.env.MAILSENTRA_REQUIRE_SERVICES !== '1') return;
  for (const name of ['DATABASE_URL', 'REDIS_URL'] as const) {
    const url = process.env[name];
    if (!url) throw new Error(`${name} must be set when MAILSENTRA_REQUIRE_SERVICES=1`);
    if (!(await reachable(url))) throw new Error(`${name} (${url}) is not reachable`);
  }
}
