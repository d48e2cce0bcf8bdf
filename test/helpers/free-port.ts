/**
 * Ports for services a test starts outside its own process (Postfix, redis-server, a built `serve`), which
 * bind them only later. A port that is merely free when chosen can be taken meanwhile, so these come from
 * where nothing else is handed ports:
 *
 * - below the kernel's ephemeral range (32768–60999 here), from which every `listen(0)` and outgoing
 *   connection on the machine draws;
 * - from a band of their own per vitest worker, since the workers are separate processes;
 * - never twice in one process: a Postfix whose public smtpd and re-injection listener got one port keeps
 *   only the last master.cf entry and queues mail without its filter.
 */
import net from 'node:net';

const FIRST = 10_000;
const LAST = 32_767;
const BANDS = 8;
const BAND_SIZE = Math.floor((LAST - FIRST + 1) / BANDS);

// VITEST_POOL_ID counts a run's workers from 1; outside vitest the process id picks a band.
const band = (Number(process.env.VITEST_POOL_ID ?? process.pid) - 1 + BANDS) % BANDS;
const bandStart = FIRST + band * BAND_SIZE;
// A later file in the same worker starts elsewhere in the band, away from ports an earlier file's
// services may still be releasing.
const offset = Math.floor(Math.random() * BAND_SIZE);
let drawn = 0;

/** A port free on 127.0.0.1 now, from this worker's band, never one this process handed out before. */
export async function freePort(): Promise<number> {
  while (drawn < BAND_SIZE) {
    const port = bandStart + ((offset + drawn++) % BAND_SIZE);
    if (await bindable(port)) return port;
  }
  throw new Error(
    `freePort: all ${BAND_SIZE} ports of band ${bandStart}–${bandStart + BAND_SIZE - 1} handed out`,
  );
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
